"""The streamed Di01/Du01 SOAP body: schema validity, exact bytes, exact length, memory."""

from __future__ import annotations

import base64
import hashlib
import io
import tracemalloc
import zipfile

import pytest

from msdportaal.transport.stuf import (
    DEFAULT_CHUNK_SIZE,
    MAX_INLINE_MESSAGE_BYTES,
    SOAP_ACTION_DI01,
    PayloadSizeMismatchError,
    base64_length,
    fits_inline,
    iter_di01_soap,
    iter_du01_soap,
    iter_soap_body,
    soap_body_length,
)
from msdportaal.transport.stuf.constants import NS_GGK, NS_SOAP_ENV, NS_STUF, NS_WSA, NS_XMIME

from .helpers import (
    PatternFile,
    ShortReads,
    assert_valid,
    body_child,
    di01,
    du01,
    wsa,
)

ALL_BYTES = bytes(range(256)) * 4 + b"\x00\xff\r\n\r"


def _soap(data: bytes, **overrides: object) -> bytes:
    return b"".join(iter_di01_soap(di01(**overrides), io.BytesIO(data), wsa=wsa()))


def _payload(soap: bytes) -> bytes:
    bericht = body_child(soap).find(f"{{{NS_GGK}}}parameters/{{{NS_GGK}}}bericht")
    assert bericht is not None
    return base64.b64decode(bericht.text or "", validate=True)


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WMO_basis_2026Q4.csv", "bsn;kosten\n123456782;12,50\n")
        archive.writestr("Kosten_JW_2026Q4.csv", "a;b\n" * 1000)
    return buffer.getvalue()


def test_csv_di01_validates_and_round_trips() -> None:
    csv = b"gemeentecode;periode;aantal\r\n0363;2026Q4;12\r\n"
    soap = _soap(csv)
    element = body_child(soap)
    assert element.tag == f"{{{NS_GGK}}}envelopHeenbericht-ggk_Di01"
    assert_valid(element)
    assert _payload(soap) == csv
    bericht = element.find(f"{{{NS_GGK}}}parameters/{{{NS_GGK}}}bericht")
    assert bericht is not None
    assert bericht.get(f"{{{NS_STUF}}}bestandsnaam") == "WMO_basis_2026Q4.csv"
    assert bericht.get(f"{{{NS_XMIME}}}contentType") == "text/csv"


def test_zip_di01_validates_and_round_trips() -> None:
    data = _zip_bytes()
    soap = _soap(data, bestandsnaam="20270115-093512-001.zip", content_type="application/zip")
    assert_valid(body_child(soap))
    assert _payload(soap) == data
    with zipfile.ZipFile(io.BytesIO(_payload(soap))) as archive:
        assert len(archive.namelist()) == 2


def test_all_byte_values_survive_exactly() -> None:
    for size in (0, 1, 2, 3, 4, 5, 255, 256, 257, len(ALL_BYTES)):
        assert _payload(_soap(ALL_BYTES[:size])) == ALL_BYTES[:size]


def test_envelope_layout() -> None:
    soap = _soap(b"x")
    assert soap.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert not soap.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM (spec §2.2)
    element = body_child(soap)
    envelope = element.getparent().getparent()  # type: ignore[union-attr]
    header = envelope.find(f"{{{NS_SOAP_ENV}}}Header")
    assert header is not None
    assert [child.tag.split("}")[1] for child in header] == ["To", "Action", "MessageID", "From"]
    assert header.findtext(f"{{{NS_WSA}}}Action") == SOAP_ACTION_DI01
    assert header.findtext(f"{{{NS_WSA}}}To") == wsa().to
    assert header.findtext(f"{{{NS_WSA}}}MessageID") == wsa().message_id
    assert header.findtext(f"{{{NS_WSA}}}From/{{{NS_WSA}}}Address") == wsa().from_address
    stuurgegevens = element.find(f"{{{NS_GGK}}}stuurgegevens")
    assert stuurgegevens is not None
    assert [child.tag.split("}")[1] for child in stuurgegevens] == [
        "berichtcode",
        "zender",
        "ontvanger",
        "referentienummer",
        "tijdstipBericht",
        "functie",
    ]
    parameters = element.find(f"{{{NS_GGK}}}parameters")
    assert parameters is not None
    assert [child.tag.split("}")[1] for child in parameters] == [
        "referentienummerBericht",
        "applicatieVersie",
        "applicatieSubversie",
        "functieVersie",
        "functieSubversie",
        "bericht",
    ]


def test_optional_fields_are_left_out_and_still_valid() -> None:
    soap = _soap(b"abc", zender_administratie=None, referentienummer_bericht=None)
    element = body_child(soap)
    assert_valid(element)
    assert element.find(f"{{{NS_GGK}}}parameters/{{{NS_GGK}}}referentienummerBericht") is None


def test_special_characters_are_escaped() -> None:
    soap = _soap(b"abc", zender_administratie='Gemeente A&B <"test">', functie="MSD&<>")
    element = body_child(soap)
    assert_valid(element)
    zender = element.find(f"{{{NS_GGK}}}stuurgegevens/{{{NS_STUF}}}zender")
    assert zender is not None
    assert zender.findtext(f"{{{NS_STUF}}}administratie") == 'Gemeente A&B <"test">'


@pytest.mark.parametrize("size", [*range(11), 29, 97, 1001, 4097, 65537])
@pytest.mark.parametrize("chunk_size", [3, 9, DEFAULT_CHUNK_SIZE])
def test_length_is_exact(size: int, chunk_size: int) -> None:
    message = di01()
    addressing = wsa()
    data = ALL_BYTES * (size // len(ALL_BYTES) + 1)
    chunks = list(
        iter_di01_soap(message, io.BytesIO(data[:size]), wsa=addressing, chunk_size=chunk_size)
    )
    assert len(b"".join(chunks)) == soap_body_length(message, size, wsa=addressing)


@pytest.mark.parametrize("size", [0, 1, 2, 196607, 196608, 196609, 3 * DEFAULT_CHUNK_SIZE + 2])
def test_length_is_exact_around_chunk_boundaries(size: int) -> None:
    message = di01(content_type="application/zip", bestandsnaam="a.zip")
    addressing = wsa()
    body = b"".join(iter_di01_soap(message, PatternFile(size), wsa=addressing))
    assert len(body) == soap_body_length(message, size, wsa=addressing)
    assert _payload(body) == PatternFile(size).read()


def test_base64_length() -> None:
    for size in range(50):
        assert base64_length(size) == len(base64.b64encode(b"x" * size))
    with pytest.raises(ValueError, match="size"):
        base64_length(-1)


def test_short_reads_are_reassembled() -> None:
    for step in (1, 2, 4, 5, 7, 1000):
        body = b"".join(iter_di01_soap(di01(), ShortReads(ALL_BYTES, step), wsa=wsa()))
        assert _payload(body) == ALL_BYTES
        assert len(body) == soap_body_length(di01(), len(ALL_BYTES), wsa=wsa())


def test_reads_from_current_position() -> None:
    stream = io.BytesIO(b"HEADERpayload")
    stream.seek(6)
    assert _payload(b"".join(iter_di01_soap(di01(), stream, wsa=wsa()))) == b"payload"


def test_size_mismatch_aborts_the_stream() -> None:
    chunks = iter_di01_soap(di01(), io.BytesIO(b"12345"), wsa=wsa(), expected_size=6)
    with pytest.raises(PayloadSizeMismatchError):
        list(chunks)
    assert b"".join(iter_di01_soap(di01(), io.BytesIO(b"12345"), wsa=wsa(), expected_size=5))


def test_text_mode_file_is_refused() -> None:
    with pytest.raises(TypeError, match="binary"):
        list(iter_di01_soap(di01(), io.StringIO("abc"), wsa=wsa()))  # type: ignore[arg-type]


def test_arguments_are_checked_before_streaming() -> None:
    with pytest.raises(ValueError, match="To and From"):
        iter_di01_soap(di01(), io.BytesIO(b""), wsa=wsa(to=None))
    with pytest.raises(ValueError, match="action"):
        iter_di01_soap(di01(), io.BytesIO(b""), wsa=wsa(action="urn:other"))
    with pytest.raises(ValueError, match="multiple of 3"):
        iter_di01_soap(di01(), io.BytesIO(b""), wsa=wsa(), chunk_size=4)
    with pytest.raises(TypeError):
        iter_di01_soap(du01(), io.BytesIO(b""), wsa=wsa())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        iter_du01_soap(di01(), io.BytesIO(b""), wsa=wsa())  # type: ignore[arg-type]


def test_explicit_matching_action_is_accepted() -> None:
    body = b"".join(iter_di01_soap(di01(), io.BytesIO(b"a"), wsa=wsa(action=SOAP_ACTION_DI01)))
    assert_valid(body_child(body))


def test_du01_validates_and_carries_cross_references() -> None:
    pdf = b"%PDF-1.7\n" + ALL_BYTES
    message = du01()
    body = b"".join(iter_du01_soap(message, io.BytesIO(pdf), wsa=wsa()))
    element = body_child(body)
    assert element.tag == f"{{{NS_GGK}}}envelopRetourbericht-ggk_Du01"
    assert_valid(element)
    assert _payload(body) == pdf
    assert element.findtext(f"{{{NS_GGK}}}stuurgegevens/{{{NS_STUF}}}crossRefnummer") == (
        message.cross_refnummer
    )
    assert element.findtext(f"{{{NS_GGK}}}parameters/{{{NS_GGK}}}crossRefnummerBericht") == (
        "20270115-093512-001"
    )
    assert len(body) == soap_body_length(message, len(pdf), wsa=wsa())
    generic = b"".join(iter_soap_body(message, io.BytesIO(pdf), wsa=wsa()))
    assert generic == body


def test_fits_inline() -> None:
    message = di01()
    overhead = soap_body_length(message, 0, wsa=wsa())
    largest = (MAX_INLINE_MESSAGE_BYTES - overhead) // 4 * 3
    assert fits_inline(message, largest, wsa=wsa())
    assert not fits_inline(message, largest + 3, wsa=wsa())
    assert not fits_inline(message, 20 * 1024 * 1024, wsa=wsa())
    assert fits_inline(message, 10, wsa=wsa(), limit=overhead + 16)


def test_streaming_keeps_memory_flat_for_a_50_mib_file() -> None:
    size = 50 * 1024 * 1024
    message = di01(content_type="application/zip", bestandsnaam="groot.zip")
    addressing = wsa()
    expected_sha = hashlib.sha256()
    reference = PatternFile(size)
    while block := reference.read(1024 * 1024):
        expected_sha.update(block)

    decoded_sha = hashlib.sha256()
    total = 0
    largest = 0
    count = 0
    tracemalloc.start()
    try:
        chunks = iter_di01_soap(message, PatternFile(size), wsa=addressing)
        head = next(chunks)
        total += len(head)
        pending = b""
        for chunk in chunks:
            total += len(chunk)
            largest = max(largest, len(chunk))
            count += 1
            pending += chunk
            # Between the head and the closing tags every chunk is pure base64.
            usable = len(pending) - len(pending) % 4
            if b"<" in pending:
                usable = pending.index(b"<")
            decoded_sha.update(base64.b64decode(pending[:usable]))
            pending = pending[usable:]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == soap_body_length(message, size, wsa=addressing)
    assert decoded_sha.hexdigest() == expected_sha.hexdigest()
    assert largest <= 4 * DEFAULT_CHUNK_SIZE // 3 + 1024  # ~256 KiB, nowhere near 50 MiB
    assert count > 100
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak} bytes"


def test_abandoned_stream_closes_cleanly() -> None:
    chunks = iter_di01_soap(di01(), PatternFile(10 * 1024 * 1024), wsa=wsa())
    next(chunks)
    next(chunks)
    chunks.close()


def test_read_errors_propagate() -> None:
    class FailingFile(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1, /) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("storage went away")
            return b"x" * size

    with pytest.raises(OSError, match="storage went away"):
        list(iter_di01_soap(di01(), FailingFile(), wsa=wsa()))
