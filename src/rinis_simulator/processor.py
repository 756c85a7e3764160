"""Handling one Di01: from request bytes to a Bv03 or a Fo03, storing what is accepted.

Kept free of HTTP so the checks read top to bottom in the order StUF prescribes (table
4.1: the first matching error wins) and can be reasoned about on their own:

1. SOAP 1.1 envelope, SOAPAction and the WS-Addressing headers (Digikoppeling WUS);
2. the Di01 against ``ggk0310_msg.xsd`` (StUF055) plus the rules the XSD cannot express
   (UUID v4 reference, file-name alphabet) — also StUF055;
3. ontvanger (StUF010) and zender (StUF013);
4. a known referentienummer: identical → the same Bv03 again, not stored twice;
   different → StUF016;
5. functie (StUF034);
6. Grote Berichten metadata, when the payload is that (StUF055 when wrong);
7. store safely, then Bv03 (StUF046 when storing fails).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import __version__
from .config import SimulatorConfig
from .gb import GbDownloader, GbReference, gb_root, looks_like_gb, parse_gb_reference
from .state import ControlState, Failure
from .storage import (
    ENVELOPE_NAME,
    GB_REFERENCE_NAME,
    RESERVED_NAMES,
    DecodeError,
    MessageStore,
    decode_base64_prefix,
    decode_base64_to,
    write_file_durably,
)
from .stuf import (
    BESTANDSNAAM_RE,
    DI01_TAG,
    KNOWN_ERRORS,
    SOAP11_NS,
    SOAP12_NS,
    SOAP_ACTION_DI01,
    STUF010,
    STUF013,
    STUF016,
    STUF034,
    STUF046,
    STUF055,
    UUID4_RE,
    AnswerAddressing,
    Di01Fields,
    Rejection,
    SchemaValidator,
    StufError,
    TijdstipClock,
    WsAddressing,
    answer_addressing,
    bv03_response,
    fo03_element,
    fo03_fault,
    parse_document,
)

log = logging.getLogger("rinis_simulator")

XML_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass
class Outcome:
    """The answer to one request plus what to log about it."""

    status: int
    body: bytes
    verdict: str
    content_type: str = XML_CONTENT_TYPE
    fields: Di01Fields = field(default_factory=Di01Fields)
    stored: bool = False
    size: int | None = None
    note: str | None = None

    def log_line(self) -> str:
        """One line per message: who, what, and what we answered."""
        f = self.fields
        parts = [
            f"ref={f.referentienummer or '-'}",
            f"zender={(f.zender.organisatie if f.zender else None) or '-'}",
            f"functie={f.functie or '-'}",
            f"bestand={f.bestandsnaam or '-'}",
        ]
        if self.size is not None:
            parts.append(f"bytes={self.size}")
        text = "Di01 " + " ".join(parts) + f" -> {self.verdict}"
        return text + (f" ({self.note})" if self.note else "")


class Di01Processor:
    """Turns a request body into an :class:`Outcome`; stores accepted messages."""

    def __init__(
        self,
        config: SimulatorConfig,
        store: MessageStore,
        stuf_schema: SchemaValidator,
        gb_schema: SchemaValidator,
        downloader: GbDownloader,
        state: ControlState,
        on_accepted: Callable[[str], None] | None = None,
    ) -> None:
        """*on_accepted* is told the referentienummer of every newly stored Di01 (after
        the store lock is released); the auto-reporter uses it to answer deliveries."""
        self.config = config
        self.on_accepted = on_accepted
        self.store = store
        self.stuf_schema = stuf_schema
        self.gb_schema = gb_schema
        self.downloader = downloader
        self.state = state
        self.clock = TijdstipClock()
        self._zender_re = re.compile(config.zender_organisatie_pattern)

    # ------------------------------------------------------------------ entry points

    def handle(
        self, body: bytes, soap_action: str | None, content_type: str | None, peer: dict[str, Any]
    ) -> Outcome:
        """Process a Di01 request normally."""
        ws: WsAddressing | None = None
        fields = Di01Fields()
        try:
            envelope = self._check_transport(body, soap_action, content_type)
            ws = WsAddressing.from_envelope(envelope)
            di01 = self._body_element(envelope)
            fields = Di01Fields.from_element(di01)
            self._check_ws_addressing(ws)
            self._check_schema(di01, fields)
            self._check_parties(fields)
            assert fields.referentienummer is not None
            with self.store.locked(fields.referentienummer):
                duplicate = self._check_duplicate(di01, fields, ws)
                if duplicate is not None:
                    return duplicate
                self._check_functie(fields)
                outcome = self._accept(body, di01, fields, ws, peer)
        except Rejection as rejection:
            return self._fault(fields, rejection.error, rejection.details, ws)
        self._notify_accepted(fields.referentienummer)
        return outcome

    def _notify_accepted(self, referentienummer: str | None) -> None:
        """Tell the listener; its trouble must never cost the sender its Bv03."""
        if self.on_accepted is None or referentienummer is None:
            return
        try:
            self.on_accepted(referentienummer)
        except Exception:
            log.exception("Verwerking na ontvangst van %s mislukt", referentienummer)

    def forced_fault(self, body: bytes, failure: Failure) -> Outcome:
        """A Fo03 ordered through the control API (``fo03-server`` / ``fo03-client``).

        The request is still read as far as possible so the Fo03 is addressed properly.
        """
        fields, ws = self._lenient(body)
        if failure.code and failure.code in KNOWN_ERRORS:
            error = KNOWN_ERRORS[failure.code]
        elif failure.code:
            error = StufError(failure.code, failure.mode.removeprefix("fo03-"), "Gesimuleerde fout")
        else:
            error = STUF046 if failure.mode == "fo03-server" else STUF010
        details = failure.details or f"Gesimuleerd via control-API (mode {failure.mode})"
        outcome = self._fault(fields, error, details, ws)
        outcome.note = "gesimuleerd"
        return outcome

    # ------------------------------------------------------------------ checks

    def _check_transport(
        self, body: bytes, soap_action: str | None, content_type: str | None
    ) -> etree._Element:
        """SOAP 1.1 over HTTP as Digikoppeling WUS and WS-I Basic Profile want it."""
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type != "text/xml":
            raise Rejection(
                STUF055, f"Content-Type moet text/xml zijn (SOAP 1.1), niet {content_type!r}"
            )
        if body.startswith(b"\xef\xbb\xbf"):
            raise Rejection(STUF055, "Bericht begint met een BOM; StUF-GGk eist UTF-8 zonder BOM")
        envelope = parse_document(body)
        encoding = (envelope.getroottree().docinfo.encoding or "UTF-8").upper()
        if encoding not in ("UTF-8", "UTF8"):
            raise Rejection(STUF055, f"Envelop moet UTF-8 zijn, niet {encoding}")
        if envelope.tag == f"{{{SOAP12_NS}}}Envelope":
            raise Rejection(STUF055, "SOAP 1.2 wordt niet ondersteund; gebruik SOAP 1.1")
        if envelope.tag != f"{{{SOAP11_NS}}}Envelope":
            raise Rejection(STUF055, f"Geen SOAP 1.1 Envelope maar {envelope.tag}")
        if soap_action is None:
            raise Rejection(STUF055, "HTTP-header SOAPAction ontbreekt")
        if soap_action.strip() != f'"{SOAP_ACTION_DI01}"':
            raise Rejection(
                STUF055,
                f'SOAPAction moet "{SOAP_ACTION_DI01}" zijn (tussen '
                f"aanhalingstekens), niet {soap_action!r}",
            )
        return envelope

    @staticmethod
    def _body_element(envelope: etree._Element) -> etree._Element:
        soap_body = envelope.find(f"{{{SOAP11_NS}}}Body")
        if soap_body is None:
            raise Rejection(STUF055, "SOAP Body ontbreekt")
        children = [c for c in soap_body if isinstance(c.tag, str)]
        if len(children) != 1 or children[0].tag != DI01_TAG:
            found = ", ".join(c.tag for c in children) or "niets"
            raise Rejection(
                STUF055,
                "SOAP Body moet precies één "
                f"envelopHeenbericht-ggk_Di01 bevatten, gevonden: {found}",
            )
        return children[0]

    @staticmethod
    def _check_ws_addressing(ws: WsAddressing) -> None:
        missing = ws.missing()
        if missing:
            raise Rejection(
                STUF055,
                "WS-Addressing-headers ontbreken "
                f"(namespace http://www.w3.org/2005/08/addressing): "
                f"{', '.join(missing)}",
            )
        if ws.action != SOAP_ACTION_DI01:
            raise Rejection(STUF055, f"wsa:Action moet {SOAP_ACTION_DI01} zijn, niet {ws.action!r}")

    def _check_schema(self, di01: etree._Element, fields: Di01Fields) -> None:
        errors = self.stuf_schema.errors(di01)
        if errors:
            raise Rejection(STUF055, "Niet conform ggk0310_msg.xsd: " + "; ".join(errors))
        ref = fields.referentienummer or ""
        if not UUID4_RE.match(ref):
            raise Rejection(
                STUF055, f"referentienummer moet een UUID v4 zijn (StUF-GGk §2.4): {ref!r}"
            )
        name = fields.bestandsnaam
        if not name:
            raise Rejection(STUF055, "bericht/@StUF:bestandsnaam ontbreekt")
        if not BESTANDSNAAM_RE.match(name) or name in RESERVED_NAMES:
            raise Rejection(
                STUF055,
                "bestandsnaam mag alleen [0-9A-Za-z._-] bevatten en "
                f"hoogstens 255 tekens lang zijn (StUF-GGk §2.7): {name!r}",
            )
        if self.config.require_referentienummer_bericht and not fields.referentienummer_bericht:
            raise Rejection(
                STUF055,
                "parameters/referentienummerBericht ontbreekt (de referentie van de aanlevering)",
            )

    def _check_parties(self, fields: Di01Fields) -> None:
        ontvanger = fields.ontvanger
        assert ontvanger is not None
        assert fields.zender is not None
        if (ontvanger.organisatie, ontvanger.applicatie) != (
            self.config.ontvanger_organisatie,
            self.config.ontvanger_applicatie,
        ):
            raise Rejection(
                STUF010,
                "ontvanger moet organisatie "
                f"{self.config.ontvanger_organisatie!r} en applicatie "
                f"{self.config.ontvanger_applicatie!r} zijn, niet "
                f"{ontvanger.organisatie!r}/{ontvanger.applicatie!r}",
            )
        if not self._zender_re.match(fields.zender.organisatie or ""):
            raise Rejection(
                STUF013,
                "zender/organisatie moet een CBS-gemeentecode zijn "
                f"(patroon {self.config.zender_organisatie_pattern}), niet "
                f"{fields.zender.organisatie!r}",
            )

    def _check_duplicate(
        self, di01: etree._Element, fields: Di01Fields, ws: WsAddressing | None
    ) -> Outcome | None:
        """StUF 03.01 §4.4: same reference → identical? Bv03 again : StUF016."""
        assert fields.referentienummer is not None
        assert fields.zender is not None
        meta = self.store.load_meta(fields.referentienummer)
        if meta is None:
            return None
        same_sender = meta.get("zender") == fields.zender.as_dict()
        if same_sender and meta.get("di01_c14n_sha256") == _c14n_sha256(di01):
            self.state.count("duplicates")
            addr = AnswerAddressing.from_dict(meta["bv03"])
            return Outcome(
                200,
                bv03_response(addr, ws),
                "Bv03",
                fields=fields,
                note="duplicaat, niet opnieuw opgeslagen",
            )
        if same_sender:
            details = (
                "referentienummer is al gebruikt voor een bericht met andere inhoud "
                f"(ontvangen {meta.get('received_at')})"
            )
        else:
            details = "referentienummer is al gebruikt door een andere zender"
        raise Rejection(STUF016, details)

    def _check_functie(self, fields: Di01Fields) -> None:
        if fields.functie not in self.config.functies:
            raise Rejection(
                STUF034,
                f"functie {fields.functie!r} is onbekend; bekend zijn: "
                f"{', '.join(self.config.functies)}",
            )

    # ------------------------------------------------------------------ accepting

    def _accept(
        self,
        body: bytes,
        di01: etree._Element,
        fields: Di01Fields,
        ws: WsAddressing,
        peer: dict[str, Any],
    ) -> Outcome:
        assert fields.referentienummer is not None
        assert fields.bericht is not None
        text = fields.bericht.text or ""
        gb_reference = self._gb_reference(text)
        staging = self.store.staging_directory()
        try:
            write_file_durably(staging / ENVELOPE_NAME, body)
            payload_name = GB_REFERENCE_NAME if gb_reference else fields.bestandsnaam
            assert payload_name is not None
            with open(staging / payload_name, "wb") as handle:
                size, sha256 = decode_base64_to(text, handle)
            addr = answer_addressing(fields, self.clock)
            meta = self._meta(body, di01, fields, ws, peer, addr, size, sha256, gb_reference)
            self.store.write_meta(staging, meta)
            self.store.commit(staging, fields.referentienummer)
        except DecodeError as exc:
            self.store.discard(staging)
            raise Rejection(STUF055, str(exc)) from exc
        except OSError as exc:
            self.store.discard(staging)
            log.exception("Opslaan van %s mislukt", fields.referentienummer)
            raise Rejection(STUF046, f"Opslaan mislukt: {exc.strerror or exc}") from exc
        self.state.count("stored")
        note = None
        if gb_reference:
            self.state.count("gb_announced")
            self.downloader.start(fields.referentienummer)
            note = f"Grote Berichten: ophalen {gb_reference.filename} ({gb_reference.size} bytes)"
        return Outcome(
            200,
            bv03_response(addr, ws),
            "Bv03",
            fields=fields,
            stored=True,
            size=gb_reference.size if gb_reference else size,
            note=note,
        )

    def _gb_reference(self, text: str) -> GbReference | None:
        """Is the payload Digikoppeling GB metadata? Then validate it (else: plain file)."""
        prefix = decode_base64_prefix(text, 64)
        if not looks_like_gb(prefix):
            return None
        approx_size = len(text) * 3 // 4
        if approx_size > self.config.gb_sniff_max_bytes:
            return None
        try:
            payload = decode_base64_prefix(text, approx_size + 3)
        except ValueError:
            return None
        root = gb_root(payload)
        if root is None:
            return None
        return parse_gb_reference(root, self.gb_schema)

    def _meta(
        self,
        body: bytes,
        di01: etree._Element,
        fields: Di01Fields,
        ws: WsAddressing,
        peer: dict[str, Any],
        addr: AnswerAddressing,
        size: int,
        sha256: str,
        gb_reference: GbReference | None,
    ) -> dict[str, Any]:
        """What ``meta.json`` holds; ``sha256``/``size`` describe the delivered file."""
        assert fields.zender is not None
        assert fields.ontvanger is not None
        payload = {
            "name": GB_REFERENCE_NAME if gb_reference else fields.bestandsnaam,
            "size": size,
            "sha256": sha256,
        }
        meta: dict[str, Any] = {
            "referentienummer": fields.referentienummer,
            "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "functie": fields.functie,
            "zender": fields.zender.as_dict(),
            "ontvanger": fields.ontvanger.as_dict(),
            "tijdstipBericht": fields.tijdstip_bericht,
            "referentienummerBericht": fields.referentienummer_bericht,
            "bestandsnaam": fields.bestandsnaam,
            "contentType": fields.content_type,
            "envelope": {
                "name": ENVELOPE_NAME,
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            },
            "payload": payload,
            "di01_c14n_sha256": _c14n_sha256(di01),
            "wsa": ws.as_dict(),
            "client_certificate": peer,
            "bv03": addr.as_dict(),
            "simulator_version": __version__,
        }
        if gb_reference is None:
            meta.update(
                kind="inline", complete=True, sha256=sha256, size=size, file=payload, gb=None
            )
        else:
            meta.update(
                kind="gb",
                complete=False,
                sha256=None,
                size=None,
                file=None,
                gb={
                    "status": "pending",
                    "reference": gb_reference.as_dict(),
                    "attempts": 0,
                    "etag": None,
                    "last_error": None,
                    "transfers": [],
                },
            )
        return meta

    # ------------------------------------------------------------------ faults

    def _fault(
        self, fields: Di01Fields, error: StufError, details: str, ws: WsAddressing | None
    ) -> Outcome:
        """A Fo03 in a SOAP Fault (HTTP 500, as SOAP 1.1 / WS-I BP R1126 require).

        The answer is checked against the schema before it leaves; if echoing the
        sender's (broken) addressing would make it invalid we fall back to defaults.
        """
        self.state.count(f"fo03_{error.code}")
        addr = answer_addressing(fields, self.clock)
        if self.stuf_schema.errors(fo03_element(addr, error, details)):
            addr = answer_addressing(Di01Fields(), self.clock)
        return Outcome(
            500,
            fo03_fault(addr, error, details, ws),
            f"Fo03 {error.code} {error.plek}",
            fields=fields,
            note=details[:300],
        )

    def _lenient(self, body: bytes) -> tuple[Di01Fields, WsAddressing | None]:
        try:
            envelope = parse_document(body)
        except Rejection:
            return Di01Fields(), None
        soap_body = envelope.find(f"{{{SOAP11_NS}}}Body")
        di01 = soap_body.find(DI01_TAG) if soap_body is not None else None
        return Di01Fields.from_element(di01), WsAddressing.from_envelope(envelope)


def _c14n_sha256(element: etree._Element) -> str:
    """Fingerprint of the StUF message itself (not the SOAP wrapping around it).

    Exclusive C14N makes it independent of where namespace prefixes were declared, so
    a resend that differs only in its WS-Addressing MessageID still counts as identical.
    """
    return hashlib.sha256(etree.tostring(element, method="c14n", exclusive=True)).hexdigest()
