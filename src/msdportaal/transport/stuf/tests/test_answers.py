"""Answer classification (Bv03 / Fo03 / protocol error) and the answer builders."""

from __future__ import annotations

import pytest
from lxml import etree

from msdportaal.transport.stuf import (
    ACTION_BV03,
    Bv03,
    Fo03,
    ProtocolError,
    Systeem,
    WsAddressing,
    build_bv03,
    build_fo03_fault,
    parse_answer,
)
from msdportaal.transport.stuf.constants import NS_SOAP_ENV, NS_STUF, NS_WSA

from .helpers import (
    BILLION_LAUGHS,
    OTHER_REFERENTIENUMMER,
    REFERENTIENUMMER,
    assert_valid,
    body_child,
)

RINIS = Systeem(organisatie="RINIS", applicatie="GGKWebservice")
PORTAAL = Systeem(organisatie="0363", applicatie="MSDPortaal", administratie="Amsterdam")
XML = "text/xml; charset=utf-8"


def _bv03() -> bytes:
    return build_bv03(
        zender=RINIS,
        ontvanger=PORTAAL,
        cross_refnummer=REFERENTIENUMMER,
        referentienummer=OTHER_REFERENTIENUMMER,
        tijdstip_bericht="20270115093513000",
    )


def _fo03(plek: str = "client", code: str = "StUF055") -> bytes:
    return build_fo03_fault(
        code,
        plek,  # type: ignore[arg-type]
        "Berichtbody is niet conform schema in sectormodel",
        zender=RINIS,
        ontvanger=PORTAAL,
        cross_refnummer=REFERENTIENUMMER,
        details="MSDAANLEVERING-00010002",
    )


def test_bv03_is_accepted() -> None:
    answer = parse_answer(200, XML, _bv03(), expected_cross_ref=REFERENTIENUMMER)
    assert isinstance(answer, Bv03)
    assert answer.accepted
    assert not answer.retryable
    assert answer.cross_refnummer == REFERENTIENUMMER
    assert answer.referentienummer == OTHER_REFERENTIENUMMER
    assert answer.tijdstip_bericht == "20270115093513000"
    assert answer.zender == RINIS
    assert answer.ontvanger == PORTAAL


def test_built_bv03_is_schema_valid() -> None:
    element = body_child(_bv03())
    assert element.tag == f"{{{NS_STUF}}}Bv03Bericht"
    assert_valid(element)


def test_bv03_for_another_message_is_not_an_acceptance() -> None:
    answer = parse_answer(200, XML, _bv03(), expected_cross_ref=OTHER_REFERENTIENUMMER)
    assert isinstance(answer, ProtocolError)
    assert answer.retryable


def test_bv03_with_error_status_is_not_an_acceptance() -> None:
    assert isinstance(parse_answer(500, XML, _bv03()), ProtocolError)


@pytest.mark.parametrize(("plek", "final"), [("client", True), ("server", False)])
def test_fo03_fault_is_refused(plek: str, final: bool) -> None:
    answer = parse_answer(500, XML, _fo03(plek))
    assert isinstance(answer, Fo03)
    assert not answer.accepted
    assert answer.plek == plek
    assert answer.final is final
    assert answer.retryable is not final
    assert answer.code == "StUF055"
    assert answer.omschrijving == "Berichtbody is niet conform schema in sectormodel"
    assert answer.details == "MSDAANLEVERING-00010002"
    assert answer.cross_refnummer == REFERENTIENUMMER
    assert answer.faultcode == ("soapenv:Client" if final else "soapenv:Server")
    assert answer.faultstring == answer.omschrijving
    assert answer.status_code == 500


def test_built_fo03_is_a_schema_valid_soap_fault() -> None:
    fault = body_child(_fo03("server", "StUF046"))
    assert fault.tag == f"{{{NS_SOAP_ENV}}}Fault"
    assert [child.tag for child in fault] == ["faultcode", "faultstring", "detail"]
    fo03 = fault.find(f"detail/{{{NS_STUF}}}Fo03Bericht")
    assert fo03 is not None
    assert_valid(fo03)


def test_fo03_for_an_unreadable_message_is_still_valid() -> None:
    body = build_fo03_fault(
        "StUF055",
        "client",
        "Berichtbody is niet conform schema in sectormodel\n(line 1)",
        zender=PORTAAL,
        details="x" * 5000 + "\x00",
    )
    fo03 = body_child(body).find(f"detail/{{{NS_STUF}}}Fo03Bericht")
    assert fo03 is not None
    assert_valid(fo03)
    answer = parse_answer(500, XML, body)
    assert isinstance(answer, Fo03)
    assert answer.cross_refnummer == "onbekend"
    assert answer.details is not None
    assert len(answer.details) == 1000


def test_fo03_builder_refuses_bad_codes() -> None:
    with pytest.raises(ValueError, match="plek"):
        build_fo03_fault("StUF055", "elsewhere", "x", zender=PORTAAL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="code"):
        build_fo03_fault("StUF0550", "client", "x", zender=PORTAAL)
    with pytest.raises(ValueError, match="omschrijving"):
        build_fo03_fault("StUF055", "client", "   ", zender=PORTAAL)


def test_fo03_with_200_status_is_still_a_refusal() -> None:
    assert isinstance(parse_answer(200, XML, _fo03()), Fo03)


def test_answer_builders_can_carry_ws_addressing() -> None:
    addressing = WsAddressing(relates_to="urn:uuid:1", to="https://x.example")
    root = etree.fromstring(
        build_bv03(
            zender=RINIS, ontvanger=PORTAAL, cross_refnummer=REFERENTIENUMMER, wsa=addressing
        )
    )
    header = root.find(f"{{{NS_SOAP_ENV}}}Header")
    assert header is not None
    assert header.findtext(f"{{{NS_WSA}}}RelatesTo") == "urn:uuid:1"
    assert header.findtext(f"{{{NS_WSA}}}Action") == ACTION_BV03
    assert isinstance(parse_answer(200, XML, etree.tostring(root)), Bv03)


HTML_502 = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>"""


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (502, "text/html", HTML_502),
        (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        (200, "text/html", b"<html><body>OK</body></html>"),
        (500, XML, b""),
        (200, XML, b"   \r\n"),
        (503, "", b"Service Unavailable"),
        (200, XML, b"\x00\xff\xfe garbage \x89PNG"),
        (200, XML, b"<soapenv:Envelope xmlns:soapenv='urn:wrong'><Body/></soapenv:Envelope>"),
        (
            200,
            "application/soap+xml",
            b"<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'><e:Body/></e:Envelope>",
        ),
        (
            200,
            XML,
            f"<s:Envelope xmlns:s='{NS_SOAP_ENV}'><s:Body/></s:Envelope>".encode(),
        ),
        (
            500,
            XML,
            f"<s:Envelope xmlns:s='{NS_SOAP_ENV}'><s:Body><s:Fault><faultcode>s:Server"
            "</faultcode><faultstring>NullPointerException</faultstring></s:Fault>"
            "</s:Body></s:Envelope>".encode(),
        ),
        (
            500,
            XML,
            f"<s:Envelope xmlns:s='{NS_SOAP_ENV}' xmlns:StUF='{NS_STUF}'><s:Body><s:Fault>"
            "<faultcode>s:Server</faultcode><faultstring>x</faultstring><detail>"
            "<StUF:Fo03Bericht><StUF:body><StUF:code>StUF046</StUF:code>"
            "<StUF:plek>somewhere</StUF:plek></StUF:body></StUF:Fo03Bericht></detail>"
            "</s:Fault></s:Body></s:Envelope>".encode(),
        ),
        (
            200,
            XML,
            f"<s:Envelope xmlns:s='{NS_SOAP_ENV}'><s:Body><x/></s:Body></s:Envelope>".encode(),
        ),
        (200, XML, _bv03()[:-40]),
    ],
    ids=[
        "html-502-doctype",
        "html-502",
        "html-200",
        "empty-500",
        "whitespace",
        "plain-text",
        "binary-garbage",
        "wrong-namespace",
        "soap-1.2",
        "empty-body",
        "fault-without-fo03",
        "fo03-without-valid-plek",
        "unknown-element",
        "truncated-bv03",
    ],
)
def test_everything_else_is_a_retryable_protocol_error(
    status: int, content_type: str, body: bytes
) -> None:
    answer = parse_answer(status, content_type, body)
    assert isinstance(answer, ProtocolError), answer
    assert answer.retryable
    assert not answer.accepted
    assert answer.status_code == status
    assert len(answer.excerpt) <= 300
    assert "\n" not in answer.excerpt


def test_billion_laughs_answer_is_a_protocol_error() -> None:
    answer = parse_answer(200, XML, BILLION_LAUGHS)
    assert isinstance(answer, ProtocolError)
    assert "DOCTYPE" in answer.reason
