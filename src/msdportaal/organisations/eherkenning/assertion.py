"""What an eHerkenning assertion says, read from the resolved and validated SAML response.

Identifiers in eHerkenning (Afsprakenstelsel eToegang 1.13) arrive as SAML ``EncryptedID``
values; python3-saml decrypts them with our key into ``{"NameID": {"NameQualifier": ...,
"value": ...}}``. The NameQualifier says what kind of identifier it is:

* ``urn:etoegang:core:LegalSubjectID`` — the represented organisation (the *dienstafnemer*:
  for us, the gemeente), with qualifier ``urn:etoegang:1.9:EntityConcernedID:KvKnr`` and/or
  ``…:EntityConcernedID:RSIN``. Before 1.13 the KvK number came as an attribute named
  ``urn:etoegang:1.9:EntityConcernedID:KvKnr``; that is read too.
* ``urn:etoegang:core:ActingSubjectID`` — the pseudonym of the person acting: stable per
  person, service provider and the organisation that authorised the person.
* ``urn:etoegang:1.9:IntermediateEntityID:KvKnr`` — with a *ketenmachtiging*, the KvK
  number of the intermediary (a supplier or shared-service organisation) that acts for
  the represented organisation. Delivered as an attribute with that name, or as an
  identifier with that NameQualifier in any attribute.
* ``urn:etoegang:1.9:ServiceRestriction:Vestigingsnr`` — the authorisation is limited to
  one branch (vestiging) of the represented organisation.
* ``AuthnContextClassRef`` of the AuthnStatement — the level of assurance
  (``urn:etoegang:core:assurance-class:loa3`` = EH3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
BRANCH_NUMBER = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
REPRESENTED_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"
INTERMEDIARY_COMPANY_NAME = "urn:etoegang:1.13:attribute-intermediate:CompanyName"
KVK_QUALIFIER = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN_QUALIFIER = "urn:etoegang:1.9:EntityConcernedID:RSIN"
INTERMEDIARY_KVK_QUALIFIER = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"

_ENTITY_CONCERNED = re.compile(r"^urn:etoegang:1\.\d+:EntityConcernedID:(?P<kind>[A-Za-z]+)$")
_INTERMEDIATE = re.compile(r"^urn:etoegang:1\.\d+:IntermediateEntityID:KvKnr$")
_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

# --- levels of assurance -----------------------------------------------------------------

LOA_PREFIX = "urn:etoegang:core:assurance-class:"
#: From low to high.
LOA_ORDER: tuple[str, ...] = ("loa1", "loa2", "loa2plus", "loa3", "loa4")
LOA_LABELS = {"loa1": "EH1", "loa2": "EH2", "loa2plus": "EH2+", "loa3": "EH3", "loa4": "EH4"}
_LOA_ALIASES = {
    "eh1": "loa1",
    "eh2": "loa2",
    "eh2+": "loa2plus",
    "eh2plus": "loa2plus",
    "eh3": "loa3",
    "eh4": "loa4",
}


def parse_loa(value: str | None) -> str | None:
    """``urn:etoegang:core:assurance-class:loa3``, ``loa3`` or ``EH3`` → ``loa3``."""
    if not value:
        return None
    key = value.strip().lower().removeprefix(LOA_PREFIX)
    key = _LOA_ALIASES.get(key, key)
    return key if key in LOA_ORDER else None


def loa_at_least(loa: str | None, minimum: str) -> bool:
    return loa is not None and LOA_ORDER.index(loa) >= LOA_ORDER.index(minimum)


def loa_label(loa: str | None) -> str:
    return LOA_LABELS.get(loa or "", "")


# --- the login ---------------------------------------------------------------------------


class IncompleteAssertionError(ValueError):
    """The assertion lacks what we need, or contradicts itself."""


@dataclass(frozen=True)
class EherkenningLogin:
    #: Pseudonym of the person (ActingSubjectID).
    acting_subject_id: str
    #: Identifiers of the represented organisation (LegalSubjectID).
    kvk_number: str = ""
    rsin: str = ""
    #: Only if a broker delivers one (``EntityConcernedID:OIN``); eHerkenning normally
    #: identifies organisations by KvK number and RSIN.
    oin: str = ""
    #: Vestigingsnummer when the authorisation is limited to one branch.
    branch_number: str = ""
    company_name: str = ""
    #: KvK number and name of the intermediary with a ketenmachtiging.
    intermediary_kvk_number: str = ""
    intermediary_name: str = ""
    #: ``loa3`` etc., or ``None`` when the assertion carries no level we know.
    loa: str | None = None
    loa_reported: str = ""

    @property
    def has_intermediary(self) -> bool:
        return bool(self.intermediary_kvk_number)

    @property
    def intermediary_display(self) -> str:
        if not self.has_intermediary:
            return ""
        if self.intermediary_name:
            return f"{self.intermediary_name} (KvK {self.intermediary_kvk_number})"
        return f"KvK {self.intermediary_kvk_number}"

    def audit_details(self) -> dict[str, str]:
        details = {
            "kvk_number": self.kvk_number,
            "rsin": self.rsin,
            "oin": self.oin,
            "vestigingsnummer": self.branch_number,
            "loa": loa_label(self.loa) or self.loa_reported,
            "intermediary_kvk_number": self.intermediary_kvk_number,
        }
        return {key: value for key, value in details.items() if value}


def _name_ids(values: Iterable[Any]) -> list[tuple[str, str]]:
    """(NameQualifier, value) of each identifier among an attribute's values."""
    found = []
    for value in values:
        if isinstance(value, Mapping) and isinstance(value.get("NameID"), Mapping):
            name_id = value["NameID"]
            found.append(((name_id.get("NameQualifier") or "").strip(), _text(name_id)))
    return found


def _text(name_id: Mapping[str, Any]) -> str:
    return str(name_id.get("value") or "").strip()


def _strings(values: Iterable[Any]) -> list[str]:
    return [str(v).strip() for v in values if isinstance(v, str) and v.strip()]


def _one(kind: str, values: Iterable[str]) -> str:
    distinct = sorted(set(values))
    if len(distinct) > 1:
        raise IncompleteAssertionError(f"more than one {kind}: {', '.join(distinct)}")
    return distinct[0] if distinct else ""


def read_login(
    attributes: Mapping[str, list[Any]],
    *,
    subject_name_id: Mapping[str, str] | None = None,
    authn_contexts: Iterable[str] = (),
) -> EherkenningLogin:
    """Build an :class:`EherkenningLogin` from ``OneLogin_Saml2_Response`` output."""
    represented: dict[str, list[str]] = {"KvKnr": [], "RSIN": [], "OIN": []}
    for qualifier, value in _name_ids(attributes.get(LEGAL_SUBJECT_ID, [])):
        match = _ENTITY_CONCERNED.match(qualifier)
        if match and match["kind"] in represented and value:
            represented[match["kind"]].append(value)
    # Before AS 1.13: the identifier as an attribute of its own.
    for name, values in attributes.items():
        match = _ENTITY_CONCERNED.match(name)
        if match and match["kind"] in represented:
            represented[match["kind"]] += _strings(values)
            represented[match["kind"]] += [v for _q, v in _name_ids(values) if v]

    intermediaries: list[str] = []
    for name, values in attributes.items():
        if _INTERMEDIATE.match(name):
            intermediaries += _strings(values)
        intermediaries += [v for q, v in _name_ids(values) if _INTERMEDIATE.match(q) and v]

    acting = [v for _q, v in _name_ids(attributes.get(ACTING_SUBJECT_ID, [])) if v]
    acting += _strings(attributes.get(ACTING_SUBJECT_ID, []))
    acting_subject_id = _one("ActingSubjectID", acting)
    # Some brokers put the pseudonym in the Subject; a transient NameID changes on every
    # login and cannot identify the person.
    if not acting_subject_id and subject_name_id and subject_name_id.get("Format") != _TRANSIENT:
        acting_subject_id = (subject_name_id.get("Value") or "").strip()
    if not acting_subject_id:
        raise IncompleteAssertionError("no ActingSubjectID")

    kvk_number = _one("KvK number", represented["KvKnr"])
    rsin = _one("RSIN", represented["RSIN"])
    oin = _one("OIN", represented["OIN"])
    if not (kvk_number or rsin or oin):
        raise IncompleteAssertionError("no LegalSubjectID (KvK number or RSIN)")

    reported = [c.strip() for c in authn_contexts if c and c.strip()]
    levels = [parse_loa(c) for c in reported]
    known = [level for level in levels if level is not None]
    # Several statements never happen in practice; if they do, the lowest one counts.
    loa = min(known, key=LOA_ORDER.index) if known else None

    return EherkenningLogin(
        acting_subject_id=acting_subject_id,
        kvk_number=kvk_number,
        rsin=rsin,
        oin=oin,
        branch_number=_one("vestigingsnummer", _strings(attributes.get(BRANCH_NUMBER, []))),
        company_name=" ".join(_strings(attributes.get(REPRESENTED_COMPANY_NAME, []))),
        intermediary_kvk_number=_one("intermediary", intermediaries),
        intermediary_name=" ".join(_strings(attributes.get(INTERMEDIARY_COMPANY_NAME, []))),
        loa=loa,
        loa_reported=", ".join(reported),
    )
