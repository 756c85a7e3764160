"""StUF-GGk / SOAP knowledge of the simulator: parsing, validating and answering.

Everything XML lives here so the HTTP layer stays about HTTP. The simulator is the
portal's counterpart, so it re-implements what it needs from the standards instead of
sharing code with the portal: a bug shared by both sides would never be caught.

Sources: StUF 03.01 §4.4 (Bv03/Fo03 and the error table 4.1), the GGk envelope
specification v2.1 (UUID v4 references, file-name rules) and the WSDL
``ggk0310_OntvangAsynchroon.wsdl`` (operation ``ggk_Di01``: output ``StUF:Bv03``, fault
``StUF:Fo03``).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSA_NS = "http://www.w3.org/2005/08/addressing"
STUF_NS = "http://www.egem.nl/StUF/StUF0301"
GGK_NS = "http://www.stufstandaarden.nl/sectormodel/ggk/0210"
XMIME_NS = "http://www.w3.org/2005/05/xmlmime"

SOAP_ACTION_DI01 = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Di01"
#: The WSDL's other OntvangAsynchroon operation: CBS's answer to a Di01 (a report).
SOAP_ACTION_DU01 = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Du01"
#: wsa:Action of our answers: the WS-Addressing default for the WSDL's output / fault.
ACTION_BV03 = (
    "http://www.stufstandaarden.nl/sectormodel/ggk/0210/OntvangAsynchroon/ggk_Di01Response"
)
ACTION_FO03 = (
    "http://www.stufstandaarden.nl/sectormodel/ggk/0210/OntvangAsynchroon/ggk_Di01/Fault/fout"
)
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"

DI01_TAG = f"{{{GGK_NS}}}envelopHeenbericht-ggk_Di01"
DU01_TAG = f"{{{GGK_NS}}}envelopRetourbericht-ggk_Du01"

#: StUF-GGk v2.1 §2.4: references are UUID version 4.
UUID4_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
#: StUF-GGk v2.1 §2.7: at most 255 characters from [0-9A-Za-z._-].
BESTANDSNAAM_RE = re.compile(r"^[0-9A-Za-z._-]{1,255}$")

try:
    _AMSTERDAM: dt.tzinfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - systems without tz data
    _AMSTERDAM = dt.UTC


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class StufError:
    """One row of StUF 03.01 table 4.1, as used in a Fo03."""

    code: str
    plek: str  # "client" | "server"
    omschrijving: str


STUF010 = StufError(
    "StUF010",
    "client",
    "Combinatie van ontvangende organisatie, applicatie en administratie onbekend",
)
STUF013 = StufError(
    "StUF013", "client", "Combinatie van zendende organisatie, applicatie en administratie onbekend"
)
STUF016 = StufError("StUF016", "client", "Combinatie zender en referentienummer niet uniek")
STUF034 = StufError("StUF034", "client", "Functie onbekend binnen sectormodel")
STUF046 = StufError("StUF046", "server", "Opslaan bericht niet mogelijk")
STUF055 = StufError("StUF055", "client", "Berichtbody is niet conform schema in sectormodel")
STUF058 = StufError("StUF058", "server", "Proces voor afhandelen bericht geeft fout")

KNOWN_ERRORS = {e.code: e for e in (STUF010, STUF013, STUF016, STUF034, STUF046, STUF055, STUF058)}


class Rejection(Exception):
    """The message is refused: answer a Fo03 with this error and these details."""

    def __init__(self, error: StufError, details: str) -> None:
        super().__init__(f"{error.code}: {details}")
        self.error = error
        self.details = details


# ----------------------------------------------------------------------------- parsing


def safe_parser() -> etree.XMLParser:
    """A parser that never resolves entities, loads DTDs or touches the network.

    ``huge_tree`` is needed because a 25 MB Di01 holds one base64 text node larger than
    libxml2's default 10 MB limit; with DTDs and entities off that is safe.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        remove_blank_text=False,
    )


def parse_document(data: bytes) -> etree._Element:
    """Parse untrusted XML; a DOCTYPE is refused outright (no DTDs in SOAP, WS-I R1008)."""
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise Rejection(STUF055, f"Bericht is geen welgevormde XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise Rejection(STUF055, "Een DOCTYPE/DTD is niet toegestaan in een SOAP-bericht")
    return root


class SchemaValidator:
    """A compiled XSD that may be used from several threads.

    lxml keeps the error log on the schema object, so validation is serialised with a
    lock; validation is fast compared with the network transfer.
    """

    def __init__(self, xsd_path: Path) -> None:
        self.path = Path(xsd_path)
        document = etree.parse(str(self.path), parser=safe_parser())
        self._schema = etree.XMLSchema(document)
        self._lock = threading.Lock()

    def errors(self, element: etree._Element, limit: int = 10) -> list[str]:
        """Return the validation errors of *element* (empty when valid)."""
        with self._lock:
            if self._schema.validate(element):
                return []
            return [f"regel {e.line}: {e.message}" for e in list(self._schema.error_log)[:limit]]


def text_of(parent: etree._Element | None, *path: tuple[str, str]) -> str | None:
    """Text of the element reached by (namespace, localname) steps, or ``None``."""
    node = parent
    for ns, local in path:
        if node is None:
            return None
        node = node.find(f"{{{ns}}}{local}")
    if node is None:
        return None
    return node.text or ""


# ------------------------------------------------------------------------ stuurgegevens


@dataclass(frozen=True)
class Systeem:
    """A StUF ``zender``/``ontvanger``."""

    organisatie: str | None
    applicatie: str | None
    administratie: str | None = None
    gebruiker: str | None = None

    @classmethod
    def from_element(cls, element: etree._Element | None) -> Systeem | None:
        """Read a ``StUF:Systeem`` element leniently (also from invalid messages)."""
        if element is None:
            return None
        return cls(
            organisatie=text_of(element, (STUF_NS, "organisatie")),
            applicatie=text_of(element, (STUF_NS, "applicatie")),
            administratie=text_of(element, (STUF_NS, "administratie")),
            gebruiker=text_of(element, (STUF_NS, "gebruiker")),
        )

    def as_dict(self) -> dict[str, str | None]:
        """JSON-friendly form for meta.json."""
        return asdict(self)


@dataclass
class Di01Fields:
    """What the simulator reads from a (possibly invalid) Di01."""

    zender: Systeem | None = None
    ontvanger: Systeem | None = None
    referentienummer: str | None = None
    tijdstip_bericht: str | None = None
    functie: str | None = None
    referentienummer_bericht: str | None = None
    bestandsnaam: str | None = None
    content_type: str | None = None
    bericht: etree._Element | None = field(default=None, repr=False)

    @classmethod
    def from_element(cls, di01: etree._Element | None) -> Di01Fields:
        """Best-effort extraction: used for valid messages and to address Fo03s."""
        if di01 is None:
            return cls()
        sg = di01.find(f"{{{GGK_NS}}}stuurgegevens")
        params = di01.find(f"{{{GGK_NS}}}parameters")
        bericht = params.find(f"{{{GGK_NS}}}bericht") if params is not None else None
        return cls(
            zender=Systeem.from_element(
                sg.find(f"{{{STUF_NS}}}zender") if sg is not None else None
            ),
            ontvanger=Systeem.from_element(
                sg.find(f"{{{STUF_NS}}}ontvanger") if sg is not None else None
            ),
            referentienummer=text_of(sg, (STUF_NS, "referentienummer")),
            tijdstip_bericht=text_of(sg, (STUF_NS, "tijdstipBericht")),
            functie=text_of(sg, (STUF_NS, "functie")),
            referentienummer_bericht=text_of(params, (GGK_NS, "referentienummerBericht")),
            bestandsnaam=bericht.get(f"{{{STUF_NS}}}bestandsnaam") if bericht is not None else None,
            content_type=bericht.get(f"{{{XMIME_NS}}}contentType") if bericht is not None else None,
            bericht=bericht,
        )


@dataclass(frozen=True)
class WsAddressing:
    """The WS-Addressing headers of a request (Digikoppeling WUS)."""

    to: str | None
    action: str | None
    message_id: str | None
    from_address: str | None

    @classmethod
    def from_envelope(cls, envelope: etree._Element) -> WsAddressing:
        """Read the headers; absent ones are ``None``."""
        header = envelope.find(f"{{{SOAP11_NS}}}Header")
        return cls(
            to=_stripped(text_of(header, (WSA_NS, "To"))),
            action=_stripped(text_of(header, (WSA_NS, "Action"))),
            message_id=_stripped(text_of(header, (WSA_NS, "MessageID"))),
            from_address=_stripped(text_of(header, (WSA_NS, "From"), (WSA_NS, "Address"))),
        )

    def missing(self) -> list[str]:
        """Names of the required headers that are absent or empty."""
        required = {
            "To": self.to,
            "Action": self.action,
            "MessageID": self.message_id,
            "From/Address": self.from_address,
        }
        return [name for name, value in required.items() if not value]

    def as_dict(self) -> dict[str, str | None]:
        """JSON-friendly form for meta.json."""
        return {
            "to": self.to,
            "action": self.action,
            "message_id": self.message_id,
            "from": self.from_address,
        }


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


# ----------------------------------------------------------------------------- answers


#: Our side of the conversation when the Di01 does not tell us who we are.
DEFAULT_SELF = Systeem(organisatie="CBS", applicatie="GGk")
UNKNOWN_PARTY = Systeem(organisatie=None, applicatie="onbekend")


class TijdstipClock:
    """``yyyyMMddHHmmssSSS`` in Dutch time, strictly increasing (StUF 03.01 §4.3.2)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = ""

    def next(self) -> str:
        """Return a new, strictly increasing tijdstipBericht."""
        with self._lock:
            now = dt.datetime.now(_AMSTERDAM)
            value = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
            if value <= self._last:
                value = str(int(self._last) + 1)
            self._last = value
            return value


@dataclass(frozen=True)
class AnswerAddressing:
    """Who the StUF answer is from and to, and what it refers to."""

    zender: Systeem
    ontvanger: Systeem
    cross_ref: str
    referentienummer: str
    tijdstip_bericht: str

    def as_dict(self) -> dict[str, Any]:
        """Persisted so an identical resend gets a byte-identical Bv03 back."""
        return {
            "zender": self.zender.as_dict(),
            "ontvanger": self.ontvanger.as_dict(),
            "crossRefnummer": self.cross_ref,
            "referentienummer": self.referentienummer,
            "tijdstipBericht": self.tijdstip_bericht,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerAddressing:
        """Inverse of :meth:`as_dict`."""
        return cls(
            zender=Systeem(**data["zender"]),
            ontvanger=Systeem(**data["ontvanger"]),
            cross_ref=data["crossRefnummer"],
            referentienummer=data["referentienummer"],
            tijdstip_bericht=data["tijdstipBericht"],
        )


def answer_addressing(fields: Di01Fields, clock: TijdstipClock) -> AnswerAddressing:
    """StUF 03.01 §4.4.1/§4.4.3: swap zender/ontvanger, crossRefnummer = their reference."""
    zender = fields.ontvanger if _usable(fields.ontvanger) else DEFAULT_SELF
    ontvanger = fields.zender if _usable(fields.zender) else UNKNOWN_PARTY
    ref = fields.referentienummer
    cross_ref = ref if ref and len(ref) <= 40 else "onbekend"
    assert zender is not None
    assert ontvanger is not None
    return AnswerAddressing(zender, ontvanger, cross_ref, str(uuid.uuid4()), clock.next())


def _usable(systeem: Systeem | None) -> bool:
    """Whether a Systeem can be echoed in a schema-valid answer (StUF:Systeem facets)."""
    if systeem is None or systeem.applicatie is None:
        return False
    if not 3 <= len(systeem.applicatie) <= 50:
        return False
    return all(
        value is None or len(value) <= limit
        for value, limit in (
            (systeem.organisatie, 200),
            (systeem.administratie, 50),
            (systeem.gebruiker, 100),
        )
    )


def _stuf(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{STUF_NS}}}{local}")
    if text is not None:
        element.text = text
    return element


def _systeem(parent: etree._Element, local: str, systeem: Systeem) -> None:
    element = _stuf(parent, local)
    for name in ("organisatie", "applicatie", "administratie", "gebruiker"):
        value = getattr(systeem, name)
        if value is not None:
            _stuf(element, name, value)


def _stuurgegevens(parent: etree._Element, berichtcode: str, addr: AnswerAddressing) -> None:
    sg = _stuf(parent, "stuurgegevens")
    _stuf(sg, "berichtcode", berichtcode)
    _systeem(sg, "zender", addr.zender)
    _systeem(sg, "ontvanger", addr.ontvanger)
    _stuf(sg, "referentienummer", addr.referentienummer)
    _stuf(sg, "tijdstipBericht", addr.tijdstip_bericht)
    _stuf(sg, "crossRefnummer", addr.cross_ref)


def _soap_envelope(
    action: str, relates_to: str | None, reply_to: str | None, message_id: str
) -> tuple[etree._Element, etree._Element]:
    nsmap = {"soap": SOAP11_NS, "wsa": WSA_NS, "StUF": STUF_NS}
    envelope = etree.Element(f"{{{SOAP11_NS}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Header")
    etree.SubElement(header, f"{{{WSA_NS}}}Action").text = action
    etree.SubElement(header, f"{{{WSA_NS}}}MessageID").text = message_id
    if relates_to:
        etree.SubElement(header, f"{{{WSA_NS}}}RelatesTo").text = relates_to
    etree.SubElement(header, f"{{{WSA_NS}}}To").text = reply_to or WSA_ANONYMOUS
    body = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body")
    return envelope, body


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def bv03_element(addr: AnswerAddressing) -> etree._Element:
    """The ``StUF:Bv03Bericht`` (the WSDL's output message for ``ggk_Di01``)."""
    bv03 = etree.Element(f"{{{STUF_NS}}}Bv03Bericht", nsmap={"StUF": STUF_NS})
    _stuurgegevens(bv03, "Bv03", addr)
    return bv03


def fo03_element(addr: AnswerAddressing, error: StufError, details: str) -> etree._Element:
    """The ``StUF:Fo03Bericht`` (the WSDL's fault message ``fout``)."""
    fo03 = etree.Element(f"{{{STUF_NS}}}Fo03Bericht", nsmap={"StUF": STUF_NS})
    _stuurgegevens(fo03, "Fo03", addr)
    body = _stuf(fo03, "body")
    _stuf(body, "code", error.code)
    _stuf(body, "plek", error.plek)
    _stuf(body, "omschrijving", error.omschrijving[:200])
    if details:
        _stuf(body, "details", details[:1000])
    return fo03


def bv03_response(addr: AnswerAddressing, ws: WsAddressing | None) -> bytes:
    """Serialise a SOAP 1.1 response holding a Bv03.

    The wsa:MessageID is derived from the Bv03's own referentienummer, so resending the
    same Bv03 for an identical duplicate (StUF 03.01 §4.4) yields identical bytes.
    """
    envelope, body = _soap_envelope(
        ACTION_BV03,
        ws.message_id if ws else None,
        ws.from_address if ws else None,
        f"urn:uuid:{addr.referentienummer}",
    )
    body.append(bv03_element(addr))
    return _serialise(envelope)


def fo03_fault(
    addr: AnswerAddressing, error: StufError, details: str, ws: WsAddressing | None
) -> bytes:
    """Serialise a SOAP 1.1 Fault whose ``detail`` holds a Fo03.

    ``faultcode`` follows ``plek``: ``soap:Client`` (do not resend unchanged) or
    ``soap:Server`` (resend later), matching how the portal must treat them.
    """
    envelope, body = _soap_envelope(
        ACTION_FO03,
        ws.message_id if ws else None,
        ws.from_address if ws else None,
        f"urn:uuid:{addr.referentienummer}",
    )
    fault = etree.SubElement(body, f"{{{SOAP11_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = (
        "soap:Client" if error.plek == "client" else "soap:Server"
    )
    etree.SubElement(fault, "faultstring").text = f"{error.code}: {error.omschrijving}"
    detail = etree.SubElement(fault, "detail")
    detail.append(fo03_element(addr, error, details))
    return _serialise(envelope)


# ------------------------------------------------------------------ reports to the portal


@dataclass(frozen=True)
class ReportMessage:
    """A message CBS sends to the portal through RINIS, carrying one file (a PDF report).

    With ``cross_refnummer`` it is a ``ggk_Du01`` answering the portal's Di01 (StUF 03.01
    §4.3: crossRefnummer = the referentienummer of the message answered); without it an
    unsolicited ``ggk_Di01``. ``cross_refnummer_bericht`` (Du01 only; the Di01 schema has
    no such element) carries the portal's own delivery reference back.
    """

    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    tijdstip_bericht: str
    functie: str
    referentienummer_bericht: str
    bestandsnaam: str
    cross_refnummer: str | None = None
    cross_refnummer_bericht: str | None = None
    content_type: str = "application/pdf"
    applicatie_versie: str = "0001"
    applicatie_subversie: str = "0000"
    functie_versie: str = "0001"
    functie_subversie: str = "0000"

    def __post_init__(self) -> None:
        if self.cross_refnummer is None and self.cross_refnummer_bericht is not None:
            raise ValueError("crossRefnummerBericht bestaat alleen in een Du01")

    @property
    def berichtcode(self) -> str:
        """``Du01`` when answering a message, else ``Di01``."""
        return "Du01" if self.cross_refnummer is not None else "Di01"

    @property
    def soap_action(self) -> str:
        """The WSDL soapAction of the operation (also the wsa:Action)."""
        return SOAP_ACTION_DU01 if self.cross_refnummer is not None else SOAP_ACTION_DI01


def report_element(message: ReportMessage, payload: bytes) -> etree._Element:
    """The ``GGK:envelopRetourbericht-ggk_Du01`` / ``envelopHeenbericht-ggk_Di01``.

    Element order follows ggk0310_msg.xsd; the payload is inlined as base64 (reports are
    small, so the portal's inline path is the one CBS uses for them).
    """
    tag = DU01_TAG if message.berichtcode == "Du01" else DI01_TAG
    root = etree.Element(tag, nsmap={"GGK": GGK_NS, "StUF": STUF_NS, "xmime": XMIME_NS})
    sg = etree.SubElement(root, f"{{{GGK_NS}}}stuurgegevens")
    _stuf(sg, "berichtcode", message.berichtcode)
    _systeem(sg, "zender", message.zender)
    _systeem(sg, "ontvanger", message.ontvanger)
    _stuf(sg, "referentienummer", message.referentienummer)
    _stuf(sg, "tijdstipBericht", message.tijdstip_bericht)
    if message.cross_refnummer is not None:
        _stuf(sg, "crossRefnummer", message.cross_refnummer)
    _stuf(sg, "functie", message.functie)
    params = etree.SubElement(root, f"{{{GGK_NS}}}parameters")
    etree.SubElement(
        params, f"{{{GGK_NS}}}referentienummerBericht"
    ).text = message.referentienummer_bericht
    if message.cross_refnummer_bericht is not None:
        etree.SubElement(
            params, f"{{{GGK_NS}}}crossRefnummerBericht"
        ).text = message.cross_refnummer_bericht
    for local, value in (
        ("applicatieVersie", message.applicatie_versie),
        ("applicatieSubversie", message.applicatie_subversie),
        ("functieVersie", message.functie_versie),
        ("functieSubversie", message.functie_subversie),
    ):
        etree.SubElement(params, f"{{{GGK_NS}}}{local}").text = value
    bericht = etree.SubElement(params, f"{{{GGK_NS}}}bericht")
    bericht.set(f"{{{STUF_NS}}}bestandsnaam", message.bestandsnaam)
    bericht.set(f"{{{XMIME_NS}}}contentType", message.content_type)
    bericht.text = base64.b64encode(payload).decode("ascii")
    return root


def report_request(
    element: etree._Element, *, soap_action: str, to: str, from_address: str, message_id: str
) -> bytes:
    """Wrap a report element in SOAP 1.1 with the Digikoppeling WS-Addressing headers."""
    envelope = etree.Element(
        f"{{{SOAP11_NS}}}Envelope", nsmap={"soapenv": SOAP11_NS, "wsa": WSA_NS}
    )
    header = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Header")
    etree.SubElement(header, f"{{{WSA_NS}}}To").text = to
    etree.SubElement(header, f"{{{WSA_NS}}}Action").text = soap_action
    etree.SubElement(header, f"{{{WSA_NS}}}MessageID").text = message_id
    sender = etree.SubElement(header, f"{{{WSA_NS}}}From")
    etree.SubElement(sender, f"{{{WSA_NS}}}Address").text = from_address
    etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body").append(element)
    return _serialise(envelope)


@dataclass(frozen=True)
class PortalAnswer:
    """What the portal answered to a report: a Bv03 or a Fo03 (or neither)."""

    berichtcode: str  # "Bv03" | "Fo03"
    referentienummer: str | None
    cross_refnummer: str | None
    code: str | None = None
    plek: str | None = None
    omschrijving: str | None = None
    details: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """JSON-friendly form for the report log (empty Fo03 fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def read_portal_answer(body: bytes) -> PortalAnswer | None:
    """Find the Bv03Bericht or Fo03Bericht anywhere in a response body.

    Searched for rather than navigated to, so a Fo03 inside ``soap:Fault/detail`` and a
    Bv03 directly in the Body are both found whatever prefixes the portal uses. Anything
    that is not XML, or holds neither, is ``None``: the caller treats it as no answer.
    """
    try:
        root = parse_document(body)
    except Rejection:
        return None
    for element in root.iter(f"{{{STUF_NS}}}Bv03Bericht", f"{{{STUF_NS}}}Fo03Bericht"):
        sg = element.find(f"{{{STUF_NS}}}stuurgegevens")
        fo03_body = element.find(f"{{{STUF_NS}}}body")
        return PortalAnswer(
            berichtcode=etree.QName(element).localname[:4],
            referentienummer=_stripped(text_of(sg, (STUF_NS, "referentienummer"))),
            cross_refnummer=_stripped(text_of(sg, (STUF_NS, "crossRefnummer"))),
            code=_stripped(text_of(fo03_body, (STUF_NS, "code"))),
            plek=_stripped(text_of(fo03_body, (STUF_NS, "plek"))),
            omschrijving=_stripped(text_of(fo03_body, (STUF_NS, "omschrijving"))),
            details=_stripped(text_of(fo03_body, (STUF_NS, "details"))),
        )
    return None
