"""Inbound Di01/Du01 parsing: round trips, official examples, safety, refusals."""

from __future__ import annotations

import base64
import hashlib
import io
import time

import pytest
from lxml import etree

from msdportaal.transport.stuf import (
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
    InboundMessageError,
    MalformedMessageError,
    SchemaValidationError,
    Systeem,
    UnknownOperationError,
    iter_di01_soap,
    iter_du01_soap,
    parse_inbound,
)
from msdportaal.transport.stuf.constants import NS_GGK, NS_SOAP_ENV, NS_STUF
from msdportaal.transport.stuf.xmlsafe import SCHEMA_DIR

from .helpers import BILLION_LAUGHS, FIXTURES, REFERENTIENUMMER, PatternFile, di01, du01, wsa

EXAMPLES = FIXTURES / "voorbeeldberichten"
DATA = bytes(range(256)) * 3 + b"end"


def _wrap(document: bytes) -> bytes:
    """Put a bare StUF document into a SOAP 1.1 envelope."""
    envelope = etree.Element(f"{{{NS_SOAP_ENV}}}Envelope", nsmap={"soapenv": NS_SOAP_ENV})
    etree.SubElement(envelope, f"{{{NS_SOAP_ENV}}}Body").append(etree.fromstring(document))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _di01_body(data: bytes = DATA, **overrides: object) -> bytes:
    return b"".join(iter_di01_soap(di01(**overrides), io.BytesIO(data), wsa=wsa()))


def test_our_di01_round_trips() -> None:
    message = di01()
    inbound = parse_inbound(_di01_body(), soap_action=f'"{SOAP_ACTION_DI01}"')
    assert inbound.operation == "ggk_Di01"
    assert inbound.berichtcode == "Di01"
    assert inbound.soap_action == SOAP_ACTION_DI01
    assert inbound.zender == message.zender
    assert inbound.ontvanger == message.ontvanger
    assert inbound.referentienummer == message.referentienummer
    assert inbound.tijdstip_bericht == message.tijdstip_bericht
    assert inbound.functie == message.functie
    assert inbound.cross_refnummer is None
    assert inbound.referentienummer_bericht == message.referentienummer_bericht
    assert inbound.cross_refnummer_bericht is None
    assert (inbound.applicatie_versie, inbound.applicatie_subversie) == ("0001", "0002")
    assert (inbound.functie_versie, inbound.functie_subversie) == ("0003", "0004")
    assert inbound.bestandsnaam == message.bestandsnaam
    assert inbound.content_type == message.content_type
    assert inbound.addressing.message_id == wsa().message_id
    assert inbound.addressing.to == wsa().to
    assert inbound.addressing.from_address == wsa().from_address
    assert inbound.payload() == DATA
    assert inbound.payload_size == len(DATA)
    assert inbound.payload_sha256() == hashlib.sha256(DATA).hexdigest()


def test_du01_round_trips_with_cross_references() -> None:
    message = du01()
    body = b"".join(iter_du01_soap(message, io.BytesIO(DATA), wsa=wsa()))
    inbound = parse_inbound(body, soap_action=SOAP_ACTION_DU01)
    assert inbound.operation == "ggk_Du01"
    assert inbound.cross_refnummer == message.cross_refnummer
    assert inbound.cross_refnummer_bericht == "20270115-093512-001"
    assert inbound.ontvanger.organisatie == "0363"
    assert inbound.payload() == DATA


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1000, 262145])
def test_payload_sizes_and_chunked_decoding(size: int) -> None:
    data = PatternFile(size).read()
    inbound = parse_inbound(_di01_body(data))
    assert inbound.payload_size == size
    assert b"".join(inbound.iter_payload(chunk_size=8)) == data
    out = io.BytesIO()
    assert inbound.write_payload(out) == size
    assert out.getvalue() == data
    with pytest.raises(ValueError, match="multiple of 4"):
        next(inbound.iter_payload(chunk_size=6))


def test_payload_over_libxml2_text_limit_is_accepted() -> None:
    # 12 MiB of file → 16 MiB of base64 in one text node: over libxml2's 10 MB
    # non-huge_tree limit, yet parsed without enabling huge_tree.
    size = 12 * 1024 * 1024
    body = b"".join(iter_di01_soap(di01(), PatternFile(size), wsa=wsa()))
    inbound = parse_inbound(body)
    assert inbound.payload_size == size
    assert inbound.payload_sha256() == hashlib.sha256(PatternFile(size).read()).hexdigest()


def test_base64_with_line_breaks_is_accepted() -> None:
    wrapped = base64.encodebytes(DATA).decode()  # 76-character lines
    body = _di01_body(b"PLACEHOLDER")
    body = body.replace(base64.b64encode(b"PLACEHOLDER"), f"\r\n{wrapped}".encode())
    inbound = parse_inbound(body)
    assert inbound.payload() == DATA
    assert inbound.payload_size == len(DATA)


def test_fingerprint_identifies_identical_resends() -> None:
    first = parse_inbound(_di01_body())
    resend = parse_inbound(
        b"".join(
            iter_di01_soap(
                di01(), io.BytesIO(DATA), wsa=wsa(message_id="urn:uuid:other-transport-id")
            )
        )
    )
    changed = parse_inbound(_di01_body(DATA + b"!"))
    assert first.fingerprint() == resend.fingerprint()
    assert first.fingerprint() != changed.fingerprint()


def test_official_di01_example_is_parsed() -> None:
    document = (EXAMPLES / "envelopHeenbericht-ggk_Di01_v21.xml").read_bytes()
    for inbound in (parse_inbound(document, require_soap=False), parse_inbound(_wrap(document))):
        assert inbound.operation == "ggk_Di01"
        assert inbound.zender == Systeem(
            organisatie="0548",
            applicatie="Wmo Applicatie",
            administratie="test",
            gebruiker="gebruiker1",
        )
        assert inbound.ontvanger.organisatie == "CAK"
        assert inbound.referentienummer == "9c0f7b90-5c69-11e5-a837-0800200c9a66"
        assert inbound.tijdstip_bericht == "20160421132514"
        assert inbound.functie == "WMO301"
        assert inbound.referentienummer_bericht == "123456789012"
        assert inbound.bestandsnaam == "WMO301.txt"
        assert inbound.content_type == "application/xml"
        assert inbound.payload() == b"Hier staat het heenbericht"
        assert inbound.gb_metadata() is None


def test_official_du01_example_from_the_schema_package_is_parsed() -> None:
    document = (SCHEMA_DIR / "stuf-ggk/ggk0310_21/ggkberichten/ggk_Du01.xml").read_bytes()
    inbound = parse_inbound(_wrap(document))
    assert inbound.operation == "ggk_Du01"
    assert inbound.cross_refnummer == "9c0f7b90-5c69-11e5-a837-0800200c9a66"
    assert inbound.cross_refnummer_bericht == "123456789012"
    assert inbound.ontvanger.organisatie == "0484"
    assert inbound.payload() == b"Hier staat het retourbericht"
    bare = (SCHEMA_DIR / "stuf-ggk/ggk0310_21/ggkberichten/ggk_Di01.xml").read_bytes()
    assert parse_inbound(bare, require_soap=False).functie == "WMO301"


def test_published_malformed_du01_example_is_refused_cleanly() -> None:
    document = (EXAMPLES / "envelopRetourbericht-ggk_Du01-v21.xml").read_bytes()
    with pytest.raises(MalformedMessageError) as info:
        parse_inbound(document, require_soap=False)
    assert info.value.stuf_code == "StUF055"
    assert info.value.plek == "client"


def test_bare_document_needs_opt_in() -> None:
    document = (EXAMPLES / "envelopHeenbericht-ggk_Di01_v21.xml").read_bytes()
    with pytest.raises(MalformedMessageError, match="SOAP"):
        parse_inbound(document)


def test_schema_error_carries_stuf055_and_what_could_be_read() -> None:
    body = _di01_body().replace(b"<GGK:functieVersie>0003", b"<GGK:functieVersie>3")
    with pytest.raises(SchemaValidationError) as info:
        parse_inbound(body)
    error = info.value
    assert error.stuf_code == "StUF055"
    assert error.plek == "client"
    assert error.omschrijving == "Berichtbody is niet conform schema in sectormodel"
    assert any("functieVersie" in message for message in error.errors)
    assert error.referentienummer == di01().referentienummer
    assert error.zender == di01().zender
    assert error.ontvanger == di01().ontvanger


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<StUF:berichtcode>Di01<", b"<StUF:berichtcode>Du01<"),
        (b"<GGK:applicatieVersie>0001</GGK:applicatieVersie>", b""),
        (b'xmime:contentType="text/csv"', b""),
        (b"</GGK:parameters>", b"<GGK:extra>x</GGK:extra></GGK:parameters>"),
        (b"YWJj", b"Y!Jj"),
        (f"<StUF:referentienummer>{REFERENTIENUMMER}".encode(), b"<StUF:referentienummer> "),
    ],
)
def test_schema_errors(old: bytes, new: bytes) -> None:
    body = _di01_body(b"abc")
    assert old in body
    with pytest.raises(SchemaValidationError):
        parse_inbound(body.replace(old, new, 1))


def test_unknown_operation() -> None:
    body = _wrap(f"<StUF:Bv03Bericht xmlns:StUF='{NS_STUF}'/>".encode())
    with pytest.raises(UnknownOperationError) as info:
        parse_inbound(body)
    assert info.value.stuf_code == "StUF022"


def test_soap_action_must_match() -> None:
    with pytest.raises(UnknownOperationError, match="SOAPAction"):
        parse_inbound(_di01_body(), soap_action=SOAP_ACTION_DU01)
    assert parse_inbound(_di01_body(), soap_action='""').operation == "ggk_Di01"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<html><body>hi</body></html>",
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'/>",
        f"<s:Envelope xmlns:s='{NS_SOAP_ENV}'><s:Body><a/><b/></s:Body></s:Envelope>".encode(),
        b"<a>&undefined;</a>",
    ],
)
def test_malformed_requests(body: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        parse_inbound(body)


def test_too_large_request_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedMessageError, match="too large"):
        parse_inbound(_di01_body(), max_bytes=100)


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(MalformedMessageError, match="DOCTYPE"):
        parse_inbound(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1


XXE_VARIANTS = [
    # Classic external entity reading a local file.
    b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><x>&xxe;</x></soapenv:Body></soapenv:Envelope>""",
    # External DTD over the network.
    b"""<?xml version="1.0"?>
<!DOCTYPE e SYSTEM "http://127.0.0.1:9/evil.dtd">
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>""",
    # Parameter entity (out-of-band exfiltration pattern).
    b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>
<e/>""",
    # The same, hidden in UTF-16.
    '<?xml version="1.0" encoding="UTF-16"?>\n'
    '<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><e>&xxe;</e>'.encode("utf-16"),
]


@pytest.mark.parametrize("body", XXE_VARIANTS, ids=["file", "external-dtd", "parameter", "utf16"])
def test_xxe_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessageError) as info:
        parse_inbound(body)
    assert "root:" not in str(info.value)
    assert isinstance(info.value, InboundMessageError)


def test_xxe_inside_a_valid_looking_di01_is_refused() -> None:
    body = _di01_body()
    declaration = b"<?xml version='1.0' encoding='UTF-8'?>"
    body = body.replace(
        declaration,
        declaration + b'\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ).replace(b"<StUF:functie>MSDAANLEVERING", b"<StUF:functie>&xxe;")
    with pytest.raises(MalformedMessageError, match="DOCTYPE"):
        parse_inbound(body)


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = _di01_body().replace(b"<soapenv:Body>", b"<soapenv:Body><!-- note --><?pi data?>")
    assert parse_inbound(body).payload() == DATA


def test_inbound_ggk_namespace_constant() -> None:
    assert NS_GGK.endswith("/ggk/0210")
