"""Grote Berichten metadata: gb-pull.xsd-valid build/parse and its place in a Di01."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from msdportaal.transport.stuf import (
    GB_CONTENT_TYPE,
    Di01Message,
    GbMetadata,
    GbMetadataError,
    build_gb_metadata,
    di01_gb_soap_length,
    file_digest,
    gb_di01_message,
    gb_filename,
    gb_pull_schema,
    iter_di01_gb_soap,
    iter_di01_soap,
    parse_gb_metadata,
    parse_inbound,
)
from msdportaal.transport.stuf.constants import NS_GB, NS_GGK, NS_STUF, NS_XMIME

from .helpers import FIXTURES, PatternFile, assert_valid, body_child, di01, wsa

SIZE = 30 * 1024 * 1024 + 7


def _metadata(**overrides: object) -> GbMetadata:
    size, sha = file_digest(PatternFile(SIZE))
    fields: dict[str, object] = {
        "filename": gb_filename("20270115-093512-001.zip"),
        "size": size,
        "checksum": sha,
        "content_type": "application/zip",
        "sender_url": "https://msdportaal.example.nl/gb/0b6f7c0e-3f0a-4a8e-9d1c-2a4b6c8d0e1f",
        "creation_time": datetime(2027, 1, 15, 8, 35, 12, tzinfo=UTC),
        "expiration_time": datetime(2027, 1, 22, 8, 35, 12, tzinfo=UTC),
        "context_id": "0b6f7c0e-3f0a-4a8e-9d1c-2a4b6c8d0e1f",
    }
    fields.update(overrides)
    return GbMetadata(**fields)  # type: ignore[arg-type]


def _zip_message() -> Di01Message:
    return di01(bestandsnaam="20270115-093512-001.zip", content_type="application/zip")


def test_gb_filename_makes_ncnames() -> None:
    assert gb_filename("WMO_basis.csv") == "WMO_basis.csv"
    assert gb_filename("20270115-093512-001.zip") == "_20270115-093512-001.zip"
    assert gb_filename(".hidden") == "_.hidden"
    assert gb_filename("-x") == "_-x"


def test_file_digest() -> None:
    data = bytes(range(256)) * 10
    assert file_digest(io.BytesIO(data), chunk_size=7) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


def test_build_is_schema_valid_and_round_trips() -> None:
    metadata = _metadata()
    document = build_gb_metadata(metadata)
    root = etree.fromstring(document)
    assert root.tag == f"{{{NS_GB}}}digikoppeling-external-data-references"
    assert root.get("profile") == "digikoppeling-gb-1.0"
    assert gb_pull_schema().validate(root)
    assert root.findtext(f".//{{{NS_GB}}}checksum") == metadata.checksum
    assert root.find(f".//{{{NS_GB}}}checksum").get("type") == "SHA256"  # type: ignore[union-attr]
    assert root.findtext(f".//{{{NS_GB}}}expirationTime") == "2027-01-22T08:35:12Z"
    assert parse_gb_metadata(document) == metadata
    assert metadata.sha256 == metadata.checksum


def test_minimal_metadata_round_trips() -> None:
    metadata = _metadata(creation_time=None, expiration_time=None, context_id=None)
    document = build_gb_metadata(metadata)
    assert gb_pull_schema().validate(etree.fromstring(document))
    assert parse_gb_metadata(document) == metadata


def test_expiry_in_other_timezone_is_normalised() -> None:
    cet = datetime(2027, 1, 22, 9, 35, 12, tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    parsed = parse_gb_metadata(build_gb_metadata(_metadata(expiration_time=cet)))
    assert parsed.expiration_time == cet
    assert parsed.expiration_time.tzinfo is not None  # type: ignore[union-attr]


def test_logius_example_parses() -> None:
    metadata = parse_gb_metadata((FIXTURES / "logius_pull_example.xml").read_bytes())
    assert metadata.filename == "NCName"
    assert metadata.checksum_type == "MD5"
    assert metadata.sha256 is None
    assert metadata.size == 0
    assert metadata.sender_url == "https://any.url/any.name"
    assert metadata.context_id == "12345"
    assert metadata.expiration_time == datetime(2001, 12, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"filename": "2027.zip"}, "NCName"),
        ({"filename": "a b"}, "NCName"),
        ({"size": -1}, "size"),
        ({"checksum": "abc"}, "SHA256"),
        ({"checksum": "z" * 64}, "SHA256"),
        ({"checksum_type": "CRC32"}, "checksum_type"),
        ({"content_type": "zip"}, "content_type"),
        ({"sender_url": "ftp://x.example/a"}, "sender_url"),
        ({"sender_url": "/relative"}, "sender_url"),
        ({"expiration_time": datetime(2027, 1, 1)}, "timezone"),
    ],
)
def test_invalid_metadata_is_refused(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _metadata(**overrides)


def test_checksum_is_normalised_to_lower_case() -> None:
    assert _metadata(checksum="AB" * 32).checksum == "ab" * 32


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<not-gb/>",
        b'<gb:digikoppeling-external-data-references xmlns:gb="http://www.logius.nl/digikoppeling/gb/2010/10"/>',
        (FIXTURES / "logius_pull_example.xml")
        .read_bytes()
        .replace(b"<tns:size>0</tns:size>", b"<tns:size>-1</tns:size>"),
        (FIXTURES / "logius_pull_example.xml").read_bytes().replace(b"senderUrl", b"receiverUrl"),
    ],
)
def test_invalid_documents_are_refused(document: bytes) -> None:
    with pytest.raises(GbMetadataError):
        parse_gb_metadata(document)


def test_two_references_are_refused() -> None:
    root = etree.fromstring(build_gb_metadata(_metadata()))
    root.append(etree.fromstring(etree.tostring(root[0])))
    document = etree.tostring(root)
    assert gb_pull_schema().validate(etree.fromstring(document))
    with pytest.raises(GbMetadataError, match="exactly one"):
        parse_gb_metadata(document)


def test_gb_di01_is_schema_valid_and_carries_the_metadata() -> None:
    message = _zip_message()
    metadata = _metadata()
    body = b"".join(iter_di01_gb_soap(message, metadata, wsa=wsa()))
    element = body_child(body)
    assert_valid(element)
    bericht = element.find(f"{{{NS_GGK}}}parameters/{{{NS_GGK}}}bericht")
    assert bericht is not None
    assert bericht.get(f"{{{NS_XMIME}}}contentType") == GB_CONTENT_TYPE
    assert bericht.get(f"{{{NS_STUF}}}bestandsnaam") == "20270115-093512-001.zip"
    document = base64.b64decode(bericht.text or "", validate=True)
    assert gb_pull_schema().validate(etree.fromstring(document))
    assert parse_gb_metadata(document) == metadata
    assert len(body) == di01_gb_soap_length(message, metadata, wsa=wsa())
    assert len(body) < 4096


def test_inbound_parser_recognises_the_gb_variant() -> None:
    message = _zip_message()
    metadata = _metadata()
    body = b"".join(iter_di01_gb_soap(message, metadata, wsa=wsa()))
    inbound = parse_inbound(body)
    assert inbound.content_type == GB_CONTENT_TYPE
    assert inbound.gb_metadata() == metadata


def test_inline_messages_are_not_mistaken_for_gb() -> None:
    body = b"".join(iter_di01_gb_soap(_zip_message(), _metadata(), wsa=wsa()))
    assert parse_inbound(body).gb_metadata() is not None
    xml_payload = b"<iWmo/>"
    plain = b"".join(
        iter_di01_soap(di01(content_type="application/xml"), io.BytesIO(xml_payload), wsa=wsa())
    )
    assert parse_inbound(plain).gb_metadata() is None
    csv = b"".join(iter_di01_soap(di01(), io.BytesIO(b"a;b\n"), wsa=wsa()))
    assert parse_inbound(csv).gb_metadata() is None


def test_gb_message_must_describe_the_same_file() -> None:
    message = _zip_message()
    with pytest.raises(ValueError, match="filename"):
        gb_di01_message(message, _metadata(filename="other.zip"))
    with pytest.raises(ValueError, match="content type"):
        gb_di01_message(message, _metadata(content_type="text/csv"))
    replaced = gb_di01_message(message, _metadata())
    assert replaced.content_type == GB_CONTENT_TYPE
    assert replaced.referentienummer == message.referentienummer


def test_expiry_helper_values() -> None:
    metadata = _metadata(expiration_time=datetime.now(UTC) + timedelta(days=7))
    assert parse_gb_metadata(build_gb_metadata(metadata)).expiration_time is not None
