"""Synchronous answers to a Di01/Du01: Bv03 (accepted) and Fo03 SOAP fault (refused).

Why three outcomes and not two: the sender's retry logic (DESIGN.md §5) needs to tell
"CBS/RINIS said no, don't resend" (Fo03, ``plek=client``), "they said not now"
(Fo03, ``plek=server``) and "we don't know what happened" — an HTML error page from a
proxy, an empty 502, a time-out page, garbage. The last kind must *never* be mistaken
for an acceptance or a final refusal, so anything that is not a clean Bv03 or a
recognisable Fo03 becomes a :class:`ProtocolError`, which is always retryable (resends
are safe: same referentienummer and tijdstipBericht, StUF 03.01 §4.4.3).

The Fo03 travels as a SOAP 1.1 Fault as in the StUF http/SOAP binding:
``faultcode`` ``soapenv:Client``/``soapenv:Server`` matching ``plek``, ``faultstring``
= ``omschrijving``, ``detail`` holding ``StUF:Fo03Bericht``, HTTP status 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final, Literal

from lxml import etree

from ._tree import append_systeem, child_text, element_children, new_envelope, q, read_systeem
from .constants import NS_SOAP_ENV, NS_STUF, NS_WSA
from .errors import InvalidXmlError
from .models import (
    Systeem,
    WsAddressing,
    check_text,
    format_tijdstip,
    new_referentienummer,
)
from .xmlsafe import safe_fromstring

#: Conventional WS-Addressing actions for the answers (the WSDL defines no wsaw:Action;
#: these follow the ``{StUF namespace}/{message}`` pattern of the Fo01 soapAction).
ACTION_BV03: Final = f"{NS_STUF}/Bv03"
ACTION_FO03: Final = f"{NS_STUF}/Fo03"

#: Fo03 ``crossRefnummer``/``ontvanger`` when the refused message was unreadable. The
#: schema requires both, so a placeholder is the only valid option.
UNKNOWN: Final = "onbekend"
UNKNOWN_SYSTEEM: Final = Systeem(organisatie=None, applicatie=UNKNOWN)

_ANSWER_NSMAP: Final[dict[str | None, str]] = {
    "soapenv": NS_SOAP_ENV,
    "wsa": NS_WSA,
    "StUF": NS_STUF,
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_EXCERPT_LENGTH: Final = 300


@dataclass(frozen=True)
class Bv03:
    """Accepted: the receiver stored the message safely (StUF 03.01 §4.4.1)."""

    zender: Systeem | None
    ontvanger: Systeem | None
    referentienummer: str | None
    tijdstip_bericht: str | None
    cross_refnummer: str | None
    status_code: int = 200

    accepted: ClassVar[bool] = True
    retryable: ClassVar[bool] = False


@dataclass(frozen=True)
class Fo03:
    """Refused with a StUF Fo03: ``plek=client`` is final, ``plek=server`` is retried."""

    code: str
    plek: Literal["client", "server"]
    omschrijving: str
    details: str | None = None
    zender: Systeem | None = None
    ontvanger: Systeem | None = None
    referentienummer: str | None = None
    tijdstip_bericht: str | None = None
    cross_refnummer: str | None = None
    faultcode: str | None = None
    faultstring: str | None = None
    status_code: int = 500

    accepted: ClassVar[bool] = False

    @property
    def retryable(self) -> bool:
        """Server-side problems may go away; client-side ones will not (DESIGN.md §5)."""
        return self.plek == "server"

    @property
    def final(self) -> bool:
        """``plek=client``: resending the same message cannot succeed."""
        return self.plek == "client"


@dataclass(frozen=True)
class ProtocolError:
    """No usable StUF answer (HTML, empty, not SOAP, 5xx without Fo03...): retry.

    ``excerpt`` is a short, control-character-free start of the body for the log.
    """

    reason: str
    status_code: int
    content_type: str
    excerpt: str

    accepted: ClassVar[bool] = False
    retryable: ClassVar[bool] = True


Answer = Bv03 | Fo03 | ProtocolError


def _excerpt(body: bytes) -> str:
    return _CONTROL.sub(" ", body[:_EXCERPT_LENGTH].decode("utf-8", "replace")).strip()


@dataclass(frozen=True)
class _Stuurgegevens:
    zender: Systeem | None
    ontvanger: Systeem | None
    referentienummer: str | None
    tijdstip_bericht: str | None
    cross_refnummer: str | None


def _stuurgegevens(bericht: etree._Element) -> _Stuurgegevens:
    sg = bericht.find(q(NS_STUF, "stuurgegevens"))
    return _Stuurgegevens(
        zender=read_systeem(sg.find(q(NS_STUF, "zender"))) if sg is not None else None,
        ontvanger=read_systeem(sg.find(q(NS_STUF, "ontvanger"))) if sg is not None else None,
        referentienummer=child_text(sg, NS_STUF, "referentienummer"),
        tijdstip_bericht=child_text(sg, NS_STUF, "tijdstipBericht"),
        cross_refnummer=child_text(sg, NS_STUF, "crossRefnummer"),
    )


def _fault_text(fault: etree._Element, name: str) -> str | None:
    # SOAP 1.1 fault children are unqualified; tolerate the common qualified mistake.
    value = fault.findtext(name)
    if value is None:
        value = fault.findtext(q(NS_SOAP_ENV, name))
    return value.strip() if value is not None else None


def _parse_fo03(
    fo03: etree._Element, status_code: int, fault: etree._Element | None
) -> Fo03 | None:
    body = fo03.find(q(NS_STUF, "body"))
    code = child_text(body, NS_STUF, "code")
    plek = child_text(body, NS_STUF, "plek")
    if code is None or plek not in ("client", "server"):
        return None
    sg = _stuurgegevens(fo03)
    return Fo03(
        code=code,
        plek="client" if plek == "client" else "server",
        omschrijving=child_text(body, NS_STUF, "omschrijving") or "",
        details=child_text(body, NS_STUF, "details"),
        zender=sg.zender,
        ontvanger=sg.ontvanger,
        referentienummer=sg.referentienummer,
        tijdstip_bericht=sg.tijdstip_bericht,
        cross_refnummer=sg.cross_refnummer,
        faultcode=_fault_text(fault, "faultcode") if fault is not None else None,
        faultstring=_fault_text(fault, "faultstring") if fault is not None else None,
        status_code=status_code,
    )


def parse_answer(
    status_code: int,
    content_type: str,
    body: bytes,
    *,
    expected_cross_ref: str | None = None,
) -> Answer:
    """Classify the HTTP answer to a Di01/Du01 as :class:`Bv03`, :class:`Fo03` or error.

    The body decides, not the status or content type (proxies lie about both): a Bv03
    counts only with a 2xx status; a Fo03 counts with any status. If
    ``expected_cross_ref`` (our referentienummer) is given, a Bv03 that confirms a
    different message is a :class:`ProtocolError`, never an acceptance.
    """

    def error(reason: str) -> ProtocolError:
        return ProtocolError(
            reason=reason,
            status_code=status_code,
            content_type=content_type or "",
            excerpt=_excerpt(body or b""),
        )

    if not body or not body.strip():
        return error(f"empty answer (HTTP {status_code})")
    try:
        root = safe_fromstring(body)
    except InvalidXmlError as exc:
        return error(f"answer is not acceptable XML (HTTP {status_code}): {exc}")
    if root.tag != q(NS_SOAP_ENV, "Envelope"):
        return error(f"answer is not a SOAP 1.1 envelope but {root.tag!r}")
    soap_body = root.find(q(NS_SOAP_ENV, "Body"))
    children = element_children(soap_body) if soap_body is not None else []
    if len(children) != 1:
        return error(f"SOAP Body must hold exactly one element, found {len(children)}")
    payload = children[0]

    if payload.tag == q(NS_SOAP_ENV, "Fault"):
        fo03_node = next(payload.iter(q(NS_STUF, "Fo03Bericht")), None)
        if fo03_node is not None:
            fo03 = _parse_fo03(fo03_node, status_code, payload)
            if fo03 is not None:
                return fo03
            return error("SOAP fault with an unusable Fo03Bericht (no code or plek)")
        return error(
            f"SOAP fault without Fo03: {_fault_text(payload, 'faultcode')} "
            f"{_fault_text(payload, 'faultstring')}"
        )
    if payload.tag == q(NS_STUF, "Fo03Bericht"):  # not a Fault, but a refusal is a refusal
        fo03 = _parse_fo03(payload, status_code, None)
        return fo03 if fo03 is not None else error("unusable Fo03Bericht (no code or plek)")
    if payload.tag == q(NS_STUF, "Bv03Bericht"):
        if not 200 <= status_code < 300:
            return error(f"Bv03 with HTTP status {status_code}")
        sg_node = payload.find(q(NS_STUF, "stuurgegevens"))
        if child_text(sg_node, NS_STUF, "berichtcode") != "Bv03":
            return error("Bv03Bericht without berichtcode Bv03")
        sg = _stuurgegevens(payload)
        if expected_cross_ref is not None and sg.cross_refnummer != expected_cross_ref:
            return error(f"Bv03 confirms {sg.cross_refnummer!r}, expected {expected_cross_ref!r}")
        return Bv03(
            zender=sg.zender,
            ontvanger=sg.ontvanger,
            referentienummer=sg.referentienummer,
            tijdstip_bericht=sg.tijdstip_bericht,
            cross_refnummer=sg.cross_refnummer,
            status_code=status_code,
        )
    return error(f"unexpected answer element {payload.tag!r}")


def _now_tijdstip() -> str:
    return format_tijdstip(datetime.now(UTC))


def _append_answer_stuurgegevens(
    parent: etree._Element,
    berichtcode: str,
    *,
    zender: Systeem,
    ontvanger: Systeem,
    referentienummer: str,
    tijdstip_bericht: str,
    cross_refnummer: str,
) -> None:
    sg = etree.SubElement(parent, q(NS_STUF, "stuurgegevens"))
    etree.SubElement(sg, q(NS_STUF, "berichtcode")).text = berichtcode
    append_systeem(sg, "zender", zender)
    append_systeem(sg, "ontvanger", ontvanger)
    etree.SubElement(sg, q(NS_STUF, "referentienummer")).text = referentienummer
    etree.SubElement(sg, q(NS_STUF, "tijdstipBericht")).text = tijdstip_bericht
    etree.SubElement(sg, q(NS_STUF, "crossRefnummer")).text = cross_refnummer


def _check_answer_ids(referentienummer: str, tijdstip_bericht: str, cross_refnummer: str) -> None:
    check_text("referentienummer", referentienummer, max_length=40)
    check_text("cross_refnummer", cross_refnummer, max_length=40)
    check_text("tijdstip_bericht", tijdstip_bericht, min_length=8, max_length=17)
    if not tijdstip_bericht.isdigit():
        raise ValueError("tijdstip_bericht must be digits")


def build_bv03(
    *,
    zender: Systeem,
    ontvanger: Systeem,
    cross_refnummer: str,
    referentienummer: str | None = None,
    tijdstip_bericht: str | None = None,
    wsa: WsAddressing | None = None,
) -> bytes:
    """SOAP response body with a ``StUF:Bv03Bericht`` (HTTP 200).

    Per StUF 03.01 §4.4.1 ``zender``/``ontvanger`` are those of the received message
    swapped (we answer as its ontvanger), ``cross_refnummer`` is its referentienummer.
    Send it only after the message is safely stored.
    """
    referentienummer = referentienummer or new_referentienummer()
    tijdstip_bericht = tijdstip_bericht or _now_tijdstip()
    _check_answer_ids(referentienummer, tijdstip_bericht, cross_refnummer)
    envelope, body = new_envelope(_ANSWER_NSMAP, wsa, ACTION_BV03)
    bericht = etree.SubElement(body, q(NS_STUF, "Bv03Bericht"))
    _append_answer_stuurgegevens(
        bericht,
        "Bv03",
        zender=zender,
        ontvanger=ontvanger,
        referentienummer=referentienummer,
        tijdstip_bericht=tijdstip_bericht,
        cross_refnummer=cross_refnummer,
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _clean(value: str, limit: int) -> str:
    value = _CONTROL.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def build_fo03_fault(
    code: str,
    plek: Literal["client", "server"],
    omschrijving: str,
    *,
    zender: Systeem,
    ontvanger: Systeem | None = None,
    cross_refnummer: str | None = None,
    details: str | None = None,
    referentienummer: str | None = None,
    tijdstip_bericht: str | None = None,
    wsa: WsAddressing | None = None,
) -> bytes:
    """SOAP 1.1 Fault response body carrying a ``StUF:Fo03Bericht`` (send with HTTP 500).

    ``zender`` is who refuses (us), ``ontvanger`` the sender of the refused message and
    ``cross_refnummer`` its referentienummer; when the message was unreadable they
    default to :data:`UNKNOWN`, since Fo03Bericht requires them. ``omschrijving`` and
    ``details`` are cleaned of control characters and cut to the schema maximum (200 and
    1000) so an error path never fails on its own error text.
    """
    check_text("code", code, max_length=7)
    if plek not in ("client", "server"):
        raise ValueError("plek must be 'client' or 'server'")
    omschrijving = _clean(omschrijving, 200)
    if not omschrijving:
        raise ValueError("omschrijving is required")
    referentienummer = referentienummer or new_referentienummer()
    tijdstip_bericht = tijdstip_bericht or _now_tijdstip()
    cross_refnummer = cross_refnummer or UNKNOWN
    _check_answer_ids(referentienummer, tijdstip_bericht, cross_refnummer)

    envelope, body = new_envelope(_ANSWER_NSMAP, wsa, ACTION_FO03)
    fault = etree.SubElement(body, q(NS_SOAP_ENV, "Fault"))
    etree.SubElement(fault, "faultcode").text = (
        "soapenv:Client" if plek == "client" else "soapenv:Server"
    )
    etree.SubElement(fault, "faultstring").text = omschrijving
    detail = etree.SubElement(fault, "detail")
    bericht = etree.SubElement(detail, q(NS_STUF, "Fo03Bericht"))
    _append_answer_stuurgegevens(
        bericht,
        "Fo03",
        zender=zender,
        ontvanger=ontvanger or UNKNOWN_SYSTEEM,
        referentienummer=referentienummer,
        tijdstip_bericht=tijdstip_bericht,
        cross_refnummer=cross_refnummer,
    )
    fo_body = etree.SubElement(bericht, q(NS_STUF, "body"))
    etree.SubElement(fo_body, q(NS_STUF, "code")).text = code
    etree.SubElement(fo_body, q(NS_STUF, "plek")).text = plek
    etree.SubElement(fo_body, q(NS_STUF, "omschrijving")).text = omschrijving
    if details:
        cleaned = _clean(details, 1000)
        if cleaned:
            etree.SubElement(fo_body, q(NS_STUF, "details")).text = cleaned
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
