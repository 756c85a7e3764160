"""Parsing received ggk_Di01 / ggk_Du01 SOAP requests (our inbound CBS endpoint).

Why the checks come in this order: the endpoint must answer every request with either
Bv03 or a Fo03 that names the refused message (StUF 03.01 §4.4.3). So the body is first
parsed safely (:mod:`.xmlsafe`: no DTD, no entities, no network, size-capped), then the
operation is identified, then the best-effort stuurgegevens are read *before* schema
validation — so even a schema-invalid message yields a Fo03 StUF055 addressed to its
sender — and only a message that validates against ggk0310_msg.xsd becomes an
:class:`InboundMessage`.

Why the payload stays base64 until asked for: the endpoint typically streams it to
storage; :meth:`InboundMessage.iter_payload` decodes it in bounded chunks instead of
materialising the decoded file next to the base64 text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Final, Literal

from lxml import etree

from ._tree import child_text, element_children, q, read_systeem
from .constants import (
    ELEMENT_DI01,
    ELEMENT_DU01,
    NS_GGK,
    NS_SOAP_ENV,
    NS_STUF,
    NS_WSA,
    NS_XMIME,
    OPERATION_DI01,
    OPERATION_DU01,
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
)
from .errors import (
    InboundMessageError,
    InvalidXmlError,
    MalformedMessageError,
    SchemaValidationError,
    UnknownOperationError,
)
from .gb import GbMetadata, is_gb_metadata_document, parse_gb_metadata
from .models import Systeem
from .xmlsafe import MAX_XML_BYTES, ggk_schema, safe_fromstring, schema_errors

#: Base64 characters decoded per step by :meth:`InboundMessage.iter_payload` (multiple
#: of 4 so every step decodes on its own).
DEFAULT_DECODE_CHUNK: Final = 4 * 64 * 1024
_GB_SNIFF_LIMIT: Final = 64 * 1024
_B64_WHITESPACE: Final = {ord(c): None for c in " \t\r\n"}

_OPERATIONS: Final[dict[str, tuple[Literal["ggk_Di01", "ggk_Du01"], Literal["Di01", "Du01"]]]] = {
    q(NS_GGK, ELEMENT_DI01): (OPERATION_DI01, "Di01"),
    q(NS_GGK, ELEMENT_DU01): (OPERATION_DU01, "Du01"),
}
_SOAP_ACTIONS: Final[dict[str, str]] = {
    OPERATION_DI01: SOAP_ACTION_DI01,
    OPERATION_DU01: SOAP_ACTION_DU01,
}


@dataclass(frozen=True)
class ReceivedAddressing:
    """WS-Addressing headers of the request, as received (all optional)."""

    to: str | None = None
    action: str | None = None
    message_id: str | None = None
    from_address: str | None = None
    relates_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class InboundMessage:
    """A schema-valid received Di01 or Du01.

    ``bestandsnaam`` is untrusted input: sanitise it before using it in a path.
    ``cross_refnummer`` (Du01 only) is the referentienummer of our Di01;
    ``cross_refnummer_bericht`` optionally our delivery reference.
    """

    operation: Literal["ggk_Di01", "ggk_Du01"]
    berichtcode: Literal["Di01", "Du01"]
    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    tijdstip_bericht: str
    functie: str
    cross_refnummer: str | None
    referentienummer_bericht: str | None
    cross_refnummer_bericht: str | None
    applicatie_versie: str
    applicatie_subversie: str
    functie_versie: str
    functie_subversie: str
    bestandsnaam: str | None
    content_type: str
    addressing: ReceivedAddressing
    payload_base64: str = field(repr=False)

    @property
    def soap_action(self) -> str:
        """The WSDL soapAction belonging to this operation."""
        return _SOAP_ACTIONS[self.operation]

    @property
    def payload_size(self) -> int:
        """Size in bytes of the decoded payload (computed from the base64 length)."""
        text = self.payload_base64
        if not text:
            return 0
        padding = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
        return len(text) // 4 * 3 - padding

    def iter_payload(self, chunk_size: int = DEFAULT_DECODE_CHUNK) -> Iterator[bytes]:
        """Decode the payload in chunks of ``chunk_size`` base64 characters (multiple of 4)."""
        if chunk_size <= 0 or chunk_size % 4:
            raise ValueError("chunk_size must be a positive multiple of 4")
        text = self.payload_base64
        for start in range(0, len(text), chunk_size):
            yield base64.b64decode(text[start : start + chunk_size], validate=True)

    def payload(self) -> bytes:
        """The whole decoded payload (fine for reports; prefer :meth:`write_payload`)."""
        return b"".join(self.iter_payload())

    def write_payload(self, fileobj: IO[bytes]) -> int:
        """Write the decoded payload to a binary file object; return the bytes written."""
        written = 0
        for chunk in self.iter_payload():
            fileobj.write(chunk)
            written += len(chunk)
        return written

    def payload_sha256(self) -> str:
        """SHA-256 hex digest of the decoded payload."""
        digest = hashlib.sha256()
        for chunk in self.iter_payload():
            digest.update(chunk)
        return digest.hexdigest()

    def fingerprint(self) -> str:
        """Digest of everything that makes the message *this* message.

        For StUF 03.01 §4.4: a second message with a known referentienummer is a
        harmless resend if its fingerprint matches (answer Bv03 again), otherwise it is
        a StUF016 conflict. Transport details (WS-Addressing) are left out on purpose.
        """
        parts = [
            self.operation,
            [self.zender.organisatie, self.zender.applicatie, self.zender.administratie],
            [self.ontvanger.organisatie, self.ontvanger.applicatie, self.ontvanger.administratie],
            self.referentienummer,
            self.tijdstip_bericht,
            self.functie,
            self.cross_refnummer,
            self.referentienummer_bericht,
            self.cross_refnummer_bericht,
            self.applicatie_versie,
            self.applicatie_subversie,
            self.functie_versie,
            self.functie_subversie,
            self.bestandsnaam,
            self.content_type,
            self.payload_sha256(),
        ]
        canonical = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def gb_metadata(self) -> GbMetadata | None:
        """The Grote Berichten reference if this message carries one instead of a file.

        Recognised by an XML content type and a GB external-data-references root (see
        :mod:`.gb`). Raises :class:`~.errors.GbMetadataError` if it is one but invalid.
        """
        media_type = self.content_type.split(";", 1)[0].strip().lower()
        if media_type not in ("application/xml", "text/xml"):
            return None
        if self.payload_size > _GB_SNIFF_LIMIT:
            return None
        data = self.payload()
        if not is_gb_metadata_document(data):
            return None
        return parse_gb_metadata(data)


def _addressing(envelope: etree._Element) -> ReceivedAddressing:
    header = envelope.find(q(NS_SOAP_ENV, "Header"))
    if header is None:
        return ReceivedAddressing()
    sender = header.find(q(NS_WSA, "From"))
    return ReceivedAddressing(
        to=child_text(header, NS_WSA, "To"),
        action=child_text(header, NS_WSA, "Action"),
        message_id=child_text(header, NS_WSA, "MessageID"),
        from_address=child_text(sender, NS_WSA, "Address"),
        relates_to=child_text(header, NS_WSA, "RelatesTo"),
    )


@dataclass(frozen=True)
class _Known:
    """Stuurgegevens read before validation, for addressing a Fo03."""

    zender: Systeem | None = None
    ontvanger: Systeem | None = None
    referentienummer: str | None = None

    def refuse(
        self,
        cls: type[InboundMessageError],
        message: str,
        errors: list[str] | None = None,
        omschrijving: str | None = None,
    ) -> InboundMessageError:
        kwargs = {
            "zender": self.zender,
            "ontvanger": self.ontvanger,
            "referentienummer": self.referentienummer,
        }
        if issubclass(cls, SchemaValidationError):
            error: InboundMessageError = cls(message, errors=errors or [message], **kwargs)
        else:
            error = cls(message, **kwargs)
        if omschrijving:
            error.omschrijving = omschrijving
        return error


def _partial(message: etree._Element) -> _Known:
    sg = message.find(q(NS_GGK, "stuurgegevens"))
    if sg is None:
        return _Known()
    return _Known(
        zender=read_systeem(sg.find(q(NS_STUF, "zender"))),
        ontvanger=read_systeem(sg.find(q(NS_STUF, "ontvanger"))),
        referentienummer=child_text(sg, NS_STUF, "referentienummer"),
    )


def _locate_message(
    root: etree._Element, require_soap: bool
) -> tuple[etree._Element, ReceivedAddressing]:
    if root.tag == q(NS_SOAP_ENV, "Envelope"):
        body = root.find(q(NS_SOAP_ENV, "Body"))
        children = element_children(body) if body is not None else []
        if len(children) != 1:
            raise MalformedMessageError(
                f"SOAP Body must hold exactly one element, found {len(children)}"
            )
        return children[0], _addressing(root)
    if not require_soap and root.tag in _OPERATIONS:
        return root, ReceivedAddressing()
    raise MalformedMessageError(f"not a SOAP 1.1 envelope: {root.tag!r}")


def soap11_content_type_problem(content_type: str | None) -> str | None:
    """Why *content_type* is not a SOAP 1.1 request's (``text/xml``, UTF-8), or None."""
    media_type, _, params = (content_type or "").partition(";")
    if media_type.strip().lower() != "text/xml":
        return (
            f"Content-Type moet text/xml zijn (SOAP 1.1), niet {media_type.strip()[:60]!r}; "
            "stuur het bericht als text/xml; charset=utf-8."
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return (
                f"Tekenset {value.strip()[:20]!r} wordt niet ondersteund; "
                "stuur het bericht als text/xml; charset=utf-8."
            )
    return None


def parse_inbound(
    body: bytes,
    *,
    soap_action: str | None = None,
    require_soap: bool = True,
    max_bytes: int = MAX_XML_BYTES,
    content_type: str | None = None,
    require_soap_action: bool = False,
) -> InboundMessage:
    """Parse and validate a received ggk_Di01/ggk_Du01 SOAP request body.

    ``soap_action`` is the HTTP ``SOAPAction`` header, if the caller has it; when
    present it must match the body element, and with ``require_soap_action`` it must be
    present. ``content_type``, when given, must be SOAP 1.1's ``text/xml`` (StUF055).
    Both are checked after the stuurgegevens were read, so the Fo03 can name the
    refused message. ``require_soap=False`` also accepts a bare Di01/Du01 document (as
    in the official example files).

    Raises :class:`MalformedMessageError`, :class:`UnknownOperationError` or
    :class:`SchemaValidationError` (all :class:`~.errors.InboundMessageError`, each with
    the StUF code to answer with and whatever stuurgegevens could be read).
    """
    try:
        root = safe_fromstring(body, max_bytes=max_bytes)
    except InvalidXmlError as exc:
        raise MalformedMessageError(str(exc)) from exc
    message, addressing = _locate_message(root, require_soap)
    known = _partial(message)

    if content_type is not None and (problem := soap11_content_type_problem(content_type)):
        raise known.refuse(MalformedMessageError, problem, omschrijving=problem)
    operation = _OPERATIONS.get(message.tag)
    if operation is None:
        raise known.refuse(UnknownOperationError, f"unsupported message {message.tag!r}")
    expected_action = _SOAP_ACTIONS[operation[0]]
    action = (soap_action or "").strip().strip('"')
    if action != expected_action and (action or require_soap_action):
        problem = f'HTTP-header SOAPAction moet "{expected_action}" zijn, ' + (
            f"niet {action[:80]!r}." if action else "maar ontbreekt."
        )
        raise known.refuse(
            UnknownOperationError,
            f"SOAPAction {action!r} does not match {operation[0]}",
            omschrijving=problem,
        )

    errors = schema_errors(ggk_schema(), message)
    if errors:
        raise known.refuse(
            SchemaValidationError, "message does not validate against ggk0310_msg.xsd", errors
        )

    sg = message.find(q(NS_GGK, "stuurgegevens"))
    params = message.find(q(NS_GGK, "parameters"))
    bericht = params.find(q(NS_GGK, "bericht")) if params is not None else None
    if sg is None or params is None or bericht is None:  # pragma: no cover - schema-checked
        raise known.refuse(SchemaValidationError, "stuurgegevens/parameters/bericht missing")

    def required(parent: etree._Element, namespace: str, name: str) -> str:
        value = child_text(parent, namespace, name)
        if value is None:
            raise known.refuse(SchemaValidationError, f"{name} is empty")
        return value

    zender, ontvanger = known.zender, known.ontvanger
    if zender is None or ontvanger is None:
        raise known.refuse(SchemaValidationError, "zender/ontvanger unusable")
    return InboundMessage(
        operation=operation[0],
        berichtcode=operation[1],
        zender=zender,
        ontvanger=ontvanger,
        referentienummer=required(sg, NS_STUF, "referentienummer"),
        tijdstip_bericht=required(sg, NS_STUF, "tijdstipBericht"),
        functie=required(sg, NS_STUF, "functie"),
        cross_refnummer=(
            required(sg, NS_STUF, "crossRefnummer") if operation[1] == "Du01" else None
        ),
        referentienummer_bericht=child_text(params, NS_GGK, "referentienummerBericht"),
        cross_refnummer_bericht=child_text(params, NS_GGK, "crossRefnummerBericht"),
        applicatie_versie=required(params, NS_GGK, "applicatieVersie"),
        applicatie_subversie=required(params, NS_GGK, "applicatieSubversie"),
        functie_versie=required(params, NS_GGK, "functieVersie"),
        functie_subversie=required(params, NS_GGK, "functieSubversie"),
        bestandsnaam=bericht.get(q(NS_STUF, "bestandsnaam")),
        content_type=bericht.get(q(NS_XMIME, "contentType"), "").strip(),
        addressing=addressing,
        payload_base64=(bericht.text or "").translate(_B64_WHITESPACE),
    )
