"""Streaming SOAP 1.1 writer for ggk_Di01 / ggk_Du01 with the file inline as base64.

Why streaming: a Di01 may be 25 MB and several deliveries are sent concurrently by
Celery workers, so the file is read, base64-encoded and written out chunk by chunk and
never held in memory — neither as bytes nor as one base64 string nor as an XML tree.

Why :func:`lxml.etree.xmlfile`: it writes XML incrementally *and* does all escaping and
namespace handling, so no XML is ever assembled by string formatting. Each ``xf.write``
goes straight into a small sink that the generator drains and yields.

Why the file is read in multiples of 3 bytes: base64 maps 3 bytes to 4 characters, so
encoding 3n-byte chunks separately and concatenating gives exactly the base64 of the
whole file (no ``=`` padding in the middle). Short reads are handled by carrying the
0–2 leftover bytes over to the next chunk.

Why the exact length can be computed up front: the output is deterministic (fixed
prefixes, fixed attribute order, no pretty printing, base64 characters never need
escaping), so the body for an n-byte file is the body for an empty file plus
``4 * ceil(n / 3)`` bytes. The HTTP client uses that for ``Content-Length`` (RINIS need
not accept chunked transfer encoding) and to choose inline vs Grote Berichten.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Final, Protocol

from lxml import etree

from .constants import MAX_INLINE_MESSAGE_BYTES, NS_GGK, NS_SOAP_ENV, NS_STUF, NS_WSA, NS_XMIME
from .constants import NSMAP as _NSMAP
from .errors import PayloadSizeMismatchError
from .models import Di01Message, Du01Message, EnvelopeMessage, Systeem, WsAddressing

#: 192 KiB of file per chunk → 256 KiB of base64 per yielded chunk.
DEFAULT_CHUNK_SIZE: Final = 3 * 64 * 1024


class SupportsRead(Protocol):
    """Anything with a binary ``read(size)`` (open file, Django File, S3 stream...)."""

    def read(self, size: int = -1, /) -> bytes: ...


class XmlWriter(Protocol):
    """The part of lxml's incremental writer (``with etree.xmlfile(...) as xf``) we use.

    lxml does not export that class, so it is described structurally here.
    """

    def element(
        self,
        tag: str,
        attrib: Mapping[str, str] | None = ...,
        nsmap: Mapping[str | None, str] | None = ...,
    ) -> AbstractContextManager[None]: ...

    def write(self, *args: str) -> None: ...

    def write_declaration(self) -> None: ...


def base64_length(size: int) -> int:
    """Length of the padded base64 encoding of ``size`` bytes."""
    if size < 0:
        raise ValueError("size must be >= 0")
    return 4 * ((size + 2) // 3)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


class _Sink:
    """File-like target for ``xmlfile`` that collects output until it is taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _iter_base64(
    fileobj: SupportsRead, chunk_size: int, expected_size: int | None
) -> Iterator[str]:
    pending = b""
    total = 0
    while True:
        data = fileobj.read(chunk_size)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("the file must be opened in binary mode (read() returned text)")
        if not data:
            break
        total += len(data)
        buf = pending + bytes(data) if pending else bytes(data)
        usable = len(buf) - len(buf) % 3
        if usable:
            yield base64.b64encode(buf[:usable]).decode("ascii")
        pending = buf[usable:]
    if pending:
        yield base64.b64encode(pending).decode("ascii")
    if expected_size is not None and total != expected_size:
        raise PayloadSizeMismatchError(f"file has {total} bytes, expected {expected_size}")


def _text(xf: XmlWriter, tag: str, value: str) -> None:
    with xf.element(tag):
        xf.write(value)


def _write_systeem(xf: XmlWriter, tag: str, systeem: Systeem) -> None:
    with xf.element(tag):
        for name in ("organisatie", "applicatie", "administratie", "gebruiker"):
            value = getattr(systeem, name)
            if value is not None:
                _text(xf, _q(NS_STUF, name), value)


def write_wsa_header(xf: XmlWriter, wsa: WsAddressing, action: str) -> None:
    """Write the SOAP Header with WS-Addressing To, Action, MessageID, RelatesTo, From."""
    with xf.element(_q(NS_SOAP_ENV, "Header")):
        if wsa.to is not None:
            _text(xf, _q(NS_WSA, "To"), wsa.to)
        _text(xf, _q(NS_WSA, "Action"), action)
        _text(xf, _q(NS_WSA, "MessageID"), wsa.message_id)
        if wsa.relates_to is not None:
            _text(xf, _q(NS_WSA, "RelatesTo"), wsa.relates_to)
        if wsa.from_address is not None:
            with xf.element(_q(NS_WSA, "From")):
                _text(xf, _q(NS_WSA, "Address"), wsa.from_address)


def _write_stuurgegevens(xf: XmlWriter, message: EnvelopeMessage) -> None:
    with xf.element(_q(NS_GGK, "stuurgegevens")):
        _text(xf, _q(NS_STUF, "berichtcode"), message.berichtcode)
        _write_systeem(xf, _q(NS_STUF, "zender"), message.zender)
        _write_systeem(xf, _q(NS_STUF, "ontvanger"), message.ontvanger)
        _text(xf, _q(NS_STUF, "referentienummer"), message.referentienummer)
        _text(xf, _q(NS_STUF, "tijdstipBericht"), message.tijdstip_bericht)
        if isinstance(message, Du01Message):
            _text(xf, _q(NS_STUF, "crossRefnummer"), message.cross_refnummer)
        _text(xf, _q(NS_STUF, "functie"), message.functie)


def _write_versions(xf: XmlWriter, message: EnvelopeMessage) -> None:
    if message.referentienummer_bericht is not None:
        _text(xf, _q(NS_GGK, "referentienummerBericht"), message.referentienummer_bericht)
    if isinstance(message, Du01Message) and message.cross_refnummer_bericht is not None:
        _text(xf, _q(NS_GGK, "crossRefnummerBericht"), message.cross_refnummer_bericht)
    _text(xf, _q(NS_GGK, "applicatieVersie"), message.applicatie_versie)
    _text(xf, _q(NS_GGK, "applicatieSubversie"), message.applicatie_subversie)
    _text(xf, _q(NS_GGK, "functieVersie"), message.functie_versie)
    _text(xf, _q(NS_GGK, "functieSubversie"), message.functie_subversie)


def _generate(
    message: EnvelopeMessage,
    fileobj: SupportsRead,
    wsa: WsAddressing,
    chunk_size: int,
    expected_size: int | None,
) -> Iterator[bytes]:
    sink = _Sink()
    bericht_attrib = {
        _q(NS_STUF, "bestandsnaam"): message.bestandsnaam,
        _q(NS_XMIME, "contentType"): message.content_type,
    }
    with etree.xmlfile(sink, encoding="UTF-8", buffered=False) as xf:
        xf.write_declaration()
        with xf.element(_q(NS_SOAP_ENV, "Envelope"), nsmap=_NSMAP):
            write_wsa_header(xf, wsa, message.soap_action)
            with xf.element(_q(NS_SOAP_ENV, "Body")), xf.element(_q(NS_GGK, message.element_name)):
                _write_stuurgegevens(xf, message)
                with xf.element(_q(NS_GGK, "parameters")):
                    _write_versions(xf, message)
                    with xf.element(_q(NS_GGK, "bericht"), attrib=bericht_attrib):
                        yield sink.take()
                        for text in _iter_base64(fileobj, chunk_size, expected_size):
                            xf.write(text)
                            yield sink.take()
    yield sink.take()


def _checked_wsa(message: EnvelopeMessage, wsa: WsAddressing) -> WsAddressing:
    if not isinstance(wsa, WsAddressing):
        raise TypeError("wsa must be a WsAddressing")
    if wsa.to is None or wsa.from_address is None:
        raise ValueError("an outbound message needs WS-Addressing To and From")
    if wsa.action is not None and wsa.action != message.soap_action:
        raise ValueError(f"wsa action {wsa.action!r} does not match {message.soap_action!r}")
    return wsa


def iter_soap_body(
    message: EnvelopeMessage,
    fileobj: SupportsRead,
    *,
    wsa: WsAddressing,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    expected_size: int | None = None,
) -> Iterator[bytes]:
    """Yield the complete SOAP request body for a Di01 or Du01, in chunks.

    ``fileobj`` is read sequentially in ``chunk_size`` pieces from its current position
    and never buffered whole. If ``expected_size`` is given (the size the Content-Length
    was computed for), a different actual size raises :class:`PayloadSizeMismatchError`
    at the end of the stream, aborting the HTTP request instead of sending a body that
    contradicts its header. Arguments are checked eagerly, before the first chunk.
    """
    if not isinstance(message, Di01Message | Du01Message):
        raise TypeError("message must be a Di01Message or Du01Message")
    if chunk_size <= 0 or chunk_size % 3:
        raise ValueError("chunk_size must be a positive multiple of 3")
    if expected_size is not None and expected_size < 0:
        raise ValueError("expected_size must be >= 0")
    return _generate(message, fileobj, _checked_wsa(message, wsa), chunk_size, expected_size)


def iter_di01_soap(
    message: Di01Message,
    fileobj: SupportsRead,
    *,
    wsa: WsAddressing,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    expected_size: int | None = None,
) -> Iterator[bytes]:
    """Stream a ``ggk_Di01`` SOAP request (our delivery to CBS); see :func:`iter_soap_body`."""
    if not isinstance(message, Di01Message):
        raise TypeError("message must be a Di01Message")
    return iter_soap_body(
        message, fileobj, wsa=wsa, chunk_size=chunk_size, expected_size=expected_size
    )


def iter_du01_soap(
    message: Du01Message,
    fileobj: SupportsRead,
    *,
    wsa: WsAddressing,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    expected_size: int | None = None,
) -> Iterator[bytes]:
    """Stream a ``ggk_Du01`` SOAP request (a CBS report, sent by the simulator)."""
    if not isinstance(message, Du01Message):
        raise TypeError("message must be a Du01Message")
    return iter_soap_body(
        message, fileobj, wsa=wsa, chunk_size=chunk_size, expected_size=expected_size
    )


def soap_body_length(message: EnvelopeMessage, file_size: int, *, wsa: WsAddressing) -> int:
    """Exact byte length of ``iter_soap_body(message, <file of file_size bytes>, wsa=wsa)``."""
    empty = b"".join(iter_soap_body(message, io.BytesIO(b""), wsa=wsa))
    return len(empty) + base64_length(file_size)


def fits_inline(
    message: EnvelopeMessage,
    file_size: int,
    *,
    wsa: WsAddressing,
    limit: int = MAX_INLINE_MESSAGE_BYTES,
) -> bool:
    """Whether the whole SOAP body stays within the 25 MB inline limit (spec §3.2).

    Measured on the full SOAP body rather than the bare Di01 element: slightly stricter
    than the spec, and it is what actually goes over the wire.
    """
    return soap_body_length(message, file_size, wsa=wsa) <= limit
