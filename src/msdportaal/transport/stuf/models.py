"""Value objects for outbound StUF-GGk messages, with validation at construction.

Why validate here and not only against the XSD: the XSD is checked on *our* output in
the tests, but at run time the envelope is streamed straight onto the wire and cannot
be validated afterwards. Every field is therefore checked when the dataclass is built,
with the stricter of the schema rule and the GGk 2.1 specification (e.g. the schema
allows any 8–17 digit ``tijdstipBericht``, DESIGN.md §5 requires ``yyyyMMddHHmmssSSS``;
the schema allows any ``bestandsnaam`` up to 255 characters, spec §2.7 allows only
``[0-9A-Za-z._-]``). A message that constructs is a message that validates.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final, Literal
from zoneinfo import ZoneInfo

from .constants import (
    CBS_ORGANISATIE,
    ELEMENT_DI01,
    ELEMENT_DU01,
    GGK_APPLICATIE,
    OPERATION_DI01,
    OPERATION_DU01,
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
)

#: StUF tijdstipBericht is local Dutch time (like our Delivery.reference, DESIGN.md §4).
AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_TIJDSTIP_17 = re.compile(r"[0-9]{17}")
_VERSIENR = re.compile(r"[0-9]{4}")
_BESTANDSNAAM = re.compile(r"[0-9A-Za-z._-]{1,255}")
_TCHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(
    rf"{_TCHARS}/{_TCHARS}(?:[ \t]*;[ \t]*{_TCHARS}=(?:{_TCHARS}|\"[^\"\\\r\n]*\"))*"
)


def check_text(
    name: str,
    value: object,
    *,
    max_length: int,
    min_length: int = 1,
    optional: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``value`` is a single-line string of allowed length.

    Control characters are refused outright: most are not even legal in XML 1.0, and the
    rest (tab, CR, LF) have no business in an identifier.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not min_length <= len(value) <= max_length:
        raise ValueError(f"{name} must be {min_length}..{max_length} characters, got {len(value)}")
    if _CONTROL_CHARS.search(value):
        raise ValueError(f"{name} contains control characters")
    if value != value.strip():
        raise ValueError(f"{name} has leading or trailing whitespace")


def check_uuid4(name: str, value: object) -> None:
    """Require a canonical (lower-case, hyphenated) UUID version 4 string (spec §2.4)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{name} is not a UUID: {value!r}") from None
    if str(parsed) != value or parsed.version != 4 or parsed.variant != uuid.RFC_4122:
        raise ValueError(f"{name} must be a canonical lower-case UUID v4, got {value!r}")


def check_tijdstip(name: str, value: object) -> None:
    """Require ``yyyyMMddHHmmssSSS`` that is a real calendar moment."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not _TIJDSTIP_17.fullmatch(value):
        raise ValueError(f"{name} must be 17 digits yyyyMMddHHmmssSSS, got {value!r}")
    try:
        datetime.strptime(value[:14], "%Y%m%d%H%M%S")  # format check only; no zone involved
    except ValueError:
        raise ValueError(f"{name} is not a valid date/time: {value!r}") from None


def check_versienr(name: str, value: object) -> None:
    """StUF:Versienr: exactly four digits (e.g. ``0001``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not _VERSIENR.fullmatch(value):
        raise ValueError(f"{name} must be exactly 4 digits, got {value!r}")


def check_bestandsnaam(value: object) -> None:
    """Spec §2.7: 1..255 characters from ``[0-9A-Za-z._-]``; no spaces, no diacritics."""
    if not isinstance(value, str):
        raise TypeError(f"bestandsnaam must be a str, not {type(value).__name__}")
    if not _BESTANDSNAAM.fullmatch(value):
        raise ValueError(
            f"bestandsnaam must be 1..255 characters from [0-9A-Za-z._-], got {value!r}"
        )
    if not value.strip("."):
        raise ValueError(f"bestandsnaam cannot consist of dots only: {value!r}")


def check_content_type(name: str, value: object) -> None:
    """A media type such as ``text/csv`` or ``application/zip`` (optional parameters)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if len(value) > 255 or not _MEDIA_TYPE.fullmatch(value):
        raise ValueError(f"{name} is not a media type: {value!r}")


def new_referentienummer() -> str:
    """A fresh ``stuurgegevens.referentienummer`` (UUID v4, spec §2.4)."""
    return str(uuid.uuid4())


def new_message_id() -> str:
    """A fresh WS-Addressing MessageID (``urn:uuid:`` form, as WS-Addressing suggests)."""
    return f"urn:uuid:{uuid.uuid4()}"


def format_tijdstip(moment: datetime) -> str:
    """Format an aware datetime as StUF ``yyyyMMddHHmmssSSS`` in Europe/Amsterdam time.

    Naive datetimes are refused: guessing their zone is how one ends up with a
    ``tijdstipBericht`` that goes backwards at the DST change (StUF019).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("format_tijdstip needs a timezone-aware datetime")
    local = moment.astimezone(AMSTERDAM)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Systeem:
    """StUF ``zender``/``ontvanger`` (organisatie, applicatie, administratie, gebruiker).

    The schema type ``StUF:Systeem`` (used by Bv03/Fo03) makes organisatie optional;
    ``Systeem_ggkberichten`` (Di01/Du01) requires it, which the envelope models check.
    """

    organisatie: str | None
    applicatie: str
    administratie: str | None = None
    gebruiker: str | None = None

    def __post_init__(self) -> None:
        check_text("organisatie", self.organisatie, max_length=200, optional=True)
        check_text("applicatie", self.applicatie, min_length=3, max_length=50)
        check_text("administratie", self.administratie, max_length=50, optional=True)
        check_text("gebruiker", self.gebruiker, max_length=100, optional=True)


@dataclass(frozen=True, kw_only=True)
class WsAddressing:
    """WS-Addressing 1.0 SOAP headers (Digikoppeling WUS: To, Action, MessageID, From).

    ``action`` defaults to the WSDL soapAction of the message it is used with. Keep the
    same ``message_id`` only if a resend is meant to be recognised on WS-A level as
    well; the StUF duplicate check uses ``referentienummer``/``tijdstipBericht``.
    ``relates_to`` is for answers (the MessageID of the request).
    """

    to: str | None = None
    from_address: str | None = None
    action: str | None = None
    message_id: str = field(default_factory=new_message_id)
    relates_to: str | None = None

    def __post_init__(self) -> None:
        for name in ("to", "from_address", "action", "relates_to"):
            check_text(name, getattr(self, name), max_length=2048, optional=True)
        check_text("message_id", self.message_id, max_length=2048)


@dataclass(frozen=True, kw_only=True)
class _EnvelopeMessage:
    """Fields shared by Di01 and Du01 (spec §3.2/§3.3, DESIGN.md §5).

    ``referentienummer`` and ``tijdstip_bericht`` are deliberately *not* defaulted: they
    must be stored with the delivery and reused unchanged on every resend (StUF 03.01
    §4.4.3), so the caller has to own them. Use :func:`new_referentienummer` and
    :func:`format_tijdstip` to create them once.
    """

    zender_organisatie: str
    zender_applicatie: str
    zender_administratie: str | None = None
    ontvanger_organisatie: str = CBS_ORGANISATIE
    ontvanger_applicatie: str = GGK_APPLICATIE
    referentienummer: str
    tijdstip_bericht: str
    functie: str
    referentienummer_bericht: str | None = None
    applicatie_versie: str
    applicatie_subversie: str
    functie_versie: str
    functie_subversie: str
    bestandsnaam: str
    content_type: str

    berichtcode: ClassVar[str]
    operation: ClassVar[str]
    soap_action: ClassVar[str]
    element_name: ClassVar[str]

    def __post_init__(self) -> None:
        check_text("zender_organisatie", self.zender_organisatie, max_length=200)
        check_text("zender_applicatie", self.zender_applicatie, min_length=3, max_length=50)
        check_text("zender_administratie", self.zender_administratie, max_length=50, optional=True)
        check_text("ontvanger_organisatie", self.ontvanger_organisatie, max_length=200)
        check_text("ontvanger_applicatie", self.ontvanger_applicatie, min_length=3, max_length=50)
        check_uuid4("referentienummer", self.referentienummer)
        check_tijdstip("tijdstip_bericht", self.tijdstip_bericht)
        check_text("functie", self.functie, max_length=30)
        check_text(
            "referentienummer_bericht", self.referentienummer_bericht, max_length=40, optional=True
        )
        for name in ("applicatie_versie", "applicatie_subversie"):
            check_versienr(name, getattr(self, name))
        for name in ("functie_versie", "functie_subversie"):
            check_versienr(name, getattr(self, name))
        check_bestandsnaam(self.bestandsnaam)
        check_content_type("content_type", self.content_type)

    @property
    def zender(self) -> Systeem:
        """The zender fields as a :class:`Systeem` (what is written to the envelope)."""
        return Systeem(
            organisatie=self.zender_organisatie,
            applicatie=self.zender_applicatie,
            administratie=self.zender_administratie,
        )

    @property
    def ontvanger(self) -> Systeem:
        """The ontvanger fields as a :class:`Systeem` (CBS/GGk by default)."""
        return Systeem(organisatie=self.ontvanger_organisatie, applicatie=self.ontvanger_applicatie)


@dataclass(frozen=True, kw_only=True)
class Di01Message(_EnvelopeMessage):
    """An outbound ``envelopHeenbericht-ggk_Di01`` (our deliveries to CBS via RINIS)."""

    berichtcode: ClassVar[Literal["Di01"]] = "Di01"
    operation: ClassVar[str] = OPERATION_DI01
    soap_action: ClassVar[str] = SOAP_ACTION_DI01
    element_name: ClassVar[str] = ELEMENT_DI01


@dataclass(frozen=True, kw_only=True)
class Du01Message(_EnvelopeMessage):
    """An ``envelopRetourbericht-ggk_Du01`` (a CBS report back; built by the simulator).

    ``cross_refnummer`` is the referentienummer (UUID v4) of the Di01 it answers;
    ``cross_refnummer_bericht`` optionally our delivery reference from that Di01.
    """

    cross_refnummer: str
    cross_refnummer_bericht: str | None = None

    berichtcode: ClassVar[Literal["Du01"]] = "Du01"
    operation: ClassVar[str] = OPERATION_DU01
    soap_action: ClassVar[str] = SOAP_ACTION_DU01
    element_name: ClassVar[str] = ELEMENT_DU01

    def __post_init__(self) -> None:
        super().__post_init__()
        check_uuid4("cross_refnummer", self.cross_refnummer)
        check_text(
            "cross_refnummer_bericht", self.cross_refnummer_bericht, max_length=40, optional=True
        )


EnvelopeMessage = Di01Message | Du01Message
