"""The SOAP endpoint over real mutual TLS: Bv03 for good Di01s, Fo03 for each mistake."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import uuid
import warnings
from pathlib import Path

import pytest
import requests
from lxml import etree

from rinis_simulator.config import SimulatorConfig
from rinis_simulator.devcerts import DevCerts
from rinis_simulator.server import Simulator
from rinis_simulator.stuf import SOAP11_NS, STUF_NS

from .conftest import ControlClient, SoapClient
from .messages import NS, build_di01, fo03_code, fo03_of, parse_answer, wrap_soap


def stored_dirs(sim: Simulator) -> list[Path]:
    """Message directories in the simulator's storage."""
    return sorted(
        p for p in sim.config.storage.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


# ------------------------------------------------------------------------------ happy


def test_valid_di01_gets_bv03_and_is_stored_byte_identical(
    client: SoapClient, simulator: Simulator, schema: etree.XMLSchema
) -> None:
    message = build_di01()
    response = client.post(message.body)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    bv03 = parse_answer(response.content)
    assert bv03.tag == f"{{{STUF_NS}}}Bv03Bericht"
    assert schema.validate(bv03), schema.error_log
    sg = bv03.find("StUF:stuurgegevens", NS)
    assert sg is not None
    assert sg.findtext("StUF:berichtcode", namespaces=NS) == "Bv03"
    assert sg.findtext("StUF:crossRefnummer", namespaces=NS) == message.referentienummer
    assert sg.findtext("StUF:zender/StUF:organisatie", namespaces=NS) == "CBS"
    assert sg.findtext("StUF:ontvanger/StUF:organisatie", namespaces=NS) == "0363"
    assert uuid.UUID(sg.findtext("StUF:referentienummer", namespaces=NS) or "").version == 4

    directory = simulator.config.storage / message.referentienummer
    assert (directory / "envelope.xml").read_bytes() == message.body
    assert (directory / message.bestandsnaam).read_bytes() == message.payload
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["functie"] == "MSDAANLEVERING"
    assert meta["zender"]["organisatie"] == "0363"
    assert meta["referentienummerBericht"] == "20270115-093512-001"
    assert meta["size"] == len(message.payload)
    assert meta["complete"] is True
    assert meta["client_certificate"]["subject"]["commonName"] == "MSDPortaal"
    assert "received_at" in meta
    assert "sha256" in meta


def test_answer_carries_ws_addressing_relates_to(client: SoapClient) -> None:
    message_id = f"urn:uuid:{uuid.uuid4()}"
    response = client.post(build_di01(wsa={"MessageID": message_id}).body)
    envelope = etree.fromstring(response.content)
    assert envelope.findtext("soap:Header/wsa:RelatesTo", namespaces=NS) == message_id
    assert envelope.findtext("soap:Header/wsa:To", namespaces=NS).startswith(
        "https://msdportaal.example/"
    )


def test_large_payload_is_decoded_in_pieces_and_intact(
    client: SoapClient, simulator: Simulator
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    message = build_di01(
        payload, content_type="application/zip", bestandsnaam="MSD_WMO-BASIS_0363_2026HJ01.zip"
    )
    response = client.post(message.body, timeout=30)
    assert response.status_code == 200, response.text
    stored = simulator.config.storage / message.referentienummer / message.bestandsnaam
    assert stored.read_bytes() == payload


def test_base64_with_line_breaks_is_accepted(client: SoapClient, simulator: Simulator) -> None:
    payload = os.urandom(5000)
    message = build_di01(payload)
    wrapped = base64.encodebytes(payload).decode()  # 76-character lines
    body = message.body.replace(base64.b64encode(payload), wrapped.encode())
    assert client.post(body).status_code == 200
    stored = simulator.config.storage / message.referentienummer / message.bestandsnaam
    assert stored.read_bytes() == payload


def test_chunked_request_body_is_accepted(client: SoapClient, simulator: Simulator) -> None:
    message = build_di01()

    def pieces():  # a generator makes requests use Transfer-Encoding: chunked
        for offset in range(0, len(message.body), 1000):
            yield message.body[offset : offset + 1000]

    response = client.post(pieces())  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    envelope = simulator.config.storage / message.referentienummer / "envelope.xml"
    assert envelope.read_bytes() == message.body


def test_toestemming_is_a_known_functie(client: SoapClient) -> None:
    message = build_di01(functie="MSDTOESTEMMING", bestandsnaam="toestemming_0363.csv")
    assert client.post(message.body).status_code == 200


# -------------------------------------------------------------------------------- TLS


def test_no_client_certificate_is_refused(simulator: Simulator, certs: DevCerts) -> None:
    anonymous = SoapClient(simulator.soap_url, None, str(certs.ca_cert))
    with pytest.raises(requests.exceptions.ConnectionError):
        anonymous.post(build_di01().body)
    assert stored_dirs(simulator) == []


def test_certificate_from_another_ca_is_refused(
    simulator: Simulator, certs: DevCerts, foreign_certs: DevCerts
) -> None:
    stranger = SoapClient(
        simulator.soap_url, foreign_certs.portal_client.as_tuple(), str(certs.ca_cert)
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        stranger.post(build_di01().body)
    assert stored_dirs(simulator) == []


def test_tls_below_1_2_is_refused(simulator: Simulator, certs: DevCerts) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(certs.ca_cert))
    context.load_cert_chain(*certs.portal_client.as_tuple())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        # This OpenSSL cannot even offer TLS 1.1: check the server's own floor instead.
        from rinis_simulator.server import server_ssl_context

        floor = server_ssl_context(certs.simulator.cert, certs.simulator.key, certs.ca_cert)
        assert floor.minimum_version == ssl.TLSVersion.TLSv1_2
        return
    with (
        socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as raw,
        pytest.raises((ssl.SSLError, OSError)),
    ):
        context.wrap_socket(raw, server_hostname="localhost")


def test_server_certificate_checks_out_against_dev_ca(
    simulator: Simulator, certs: DevCerts
) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(*certs.portal_client.as_tuple())
    with (
        socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


# ------------------------------------------------------------------------- Fo03 cases


def test_schema_invalid_di01_gets_fo03_stuf055(
    client: SoapClient, simulator: Simulator, schema: etree.XMLSchema
) -> None:
    message = build_di01(applicatie_versie="1")  # Versienr must be 4 digits
    response = client.post(message.body)

    assert response.status_code == 500
    fault = parse_answer(response.content)
    assert fault.tag == f"{{{SOAP11_NS}}}Fault"
    assert fault.findtext("faultcode") == "soap:Client"
    assert fo03_code(response.content) == ("StUF055", "client")
    fo03 = fo03_of(response.content)
    assert schema.validate(fo03), schema.error_log
    assert (
        fo03.findtext("StUF:stuurgegevens/StUF:crossRefnummer", namespaces=NS)
        == message.referentienummer
    )
    assert "applicatieVersie" in (fo03.findtext("StUF:body/StUF:details", namespaces=NS) or "")
    assert stored_dirs(simulator) == []


def test_same_reference_different_content_gets_stuf016(
    client: SoapClient, simulator: Simulator
) -> None:
    ref = str(uuid.uuid4())
    assert client.post(build_di01(b"eerste", referentienummer=ref).body).status_code == 200
    response = client.post(build_di01(b"tweede", referentienummer=ref).body)
    assert response.status_code == 500
    assert fo03_code(response.content) == ("StUF016", "client")
    stored = simulator.config.storage / ref / "MSD_WMO-BASIS_0363_2026HJ01.csv"
    assert stored.read_bytes() == b"eerste"


def test_same_reference_same_content_gets_bv03_again_and_is_stored_once(
    client: SoapClient, simulator: Simulator, control: ControlClient
) -> None:
    message = build_di01()
    first = client.post(message.body)
    # A resend may carry a new wsa:MessageID; the StUF message itself is identical.
    resend = message.body.replace(b"urn:uuid:", b"urn:uuid:0", 1)
    second = client.post(resend)

    assert first.status_code == second.status_code == 200
    first_bv03 = etree.tostring(parse_answer(first.content))
    assert etree.tostring(parse_answer(second.content)) == first_bv03
    assert [p.name for p in stored_dirs(simulator)] == [message.referentienummer]
    envelope = simulator.config.storage / message.referentienummer / "envelope.xml"
    assert envelope.read_bytes() == message.body  # the first one, not overwritten
    status = control.get("status")
    assert status["messages"]["stored"] == 1
    assert status["counters"]["duplicates"] == 1


def test_same_reference_from_another_zender_gets_stuf016(client: SoapClient) -> None:
    ref = str(uuid.uuid4())
    assert client.post(build_di01(referentienummer=ref).body).status_code == 200
    response = client.post(build_di01(referentienummer=ref, zender_organisatie="0518").body)
    assert fo03_code(response.content) == ("StUF016", "client")


def test_unknown_functie_gets_stuf034(client: SoapClient, simulator: Simulator) -> None:
    response = client.post(build_di01(functie="WMO301").body)
    assert response.status_code == 500
    assert fo03_code(response.content) == ("StUF034", "client")
    assert stored_dirs(simulator) == []


def test_wrong_ontvanger_gets_stuf010(client: SoapClient) -> None:
    response = client.post(build_di01(ontvanger_organisatie="CAK").body)
    assert fo03_code(response.content) == ("StUF010", "client")


def test_zender_must_be_a_gemeentecode(client: SoapClient) -> None:
    response = client.post(build_di01(zender_organisatie="Amsterdam").body)
    assert fo03_code(response.content) == ("StUF013", "client")


@pytest.mark.parametrize("header", ["To", "Action", "MessageID", "From"])
def test_missing_ws_addressing_header_is_refused(client: SoapClient, header: str) -> None:
    response = client.post(build_di01(wsa={header: None}).body)
    assert response.status_code == 500
    assert fo03_code(response.content) == ("StUF055", "client")
    fo03 = fo03_of(response.content)
    assert header in (fo03.findtext("StUF:body/StUF:details", namespaces=NS) or "")


def test_wrong_soap_action_is_refused(client: SoapClient) -> None:
    response = client.post(build_di01().body, headers={"SOAPAction": '"urn:iets-anders"'})
    assert fo03_code(response.content) == ("StUF055", "client")


def test_wrong_content_type_is_refused(client: SoapClient) -> None:
    response = client.post(build_di01().body, headers={"Content-Type": "application/xml"})
    assert fo03_code(response.content) == ("StUF055", "client")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"referentienummer": "9c0f7b90-5c69-11e5-a837-0800200c9a66"}, "UUID v4"),
        ({"bestandsnaam": "MSD WMO 0363.csv"}, "bestandsnaam"),
        ({"bestandsnaam": "envelope.xml"}, "bestandsnaam"),
        ({"referentienummer_bericht": None}, "referentienummerBericht"),
    ],
)
def test_rules_beyond_the_xsd_are_checked(
    client: SoapClient, kwargs: dict[str, str | None], fragment: str
) -> None:
    response = client.post(build_di01(**kwargs).body)  # type: ignore[arg-type]
    assert fo03_code(response.content) == ("StUF055", "client")
    assert fragment in (
        fo03_of(response.content).findtext("StUF:body/StUF:details", namespaces=NS) or ""
    )


def test_doctype_and_entities_are_refused_not_expanded(
    client: SoapClient, simulator: Simulator
) -> None:
    secret = Path(simulator.config.storage).parent / "geheim.txt"
    secret.write_text("GEHEIM")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11_NS}"><soapenv:Body>&e;</soapenv:Body>'
        "</soapenv:Envelope>"
    ).encode()
    response = client.post(body)
    assert fo03_code(response.content) == ("StUF055", "client")
    assert b"GEHEIM" not in response.content


def test_non_utf8_envelope_is_refused(client: SoapClient) -> None:
    body = build_di01().body.replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    assert b"ISO-8859-1" in body
    assert fo03_code(client.post(body).content) == ("StUF055", "client")


def test_bom_is_refused(client: SoapClient) -> None:
    assert fo03_code(client.post(b"\xef\xbb\xbf" + build_di01().body).content)[0] == "StUF055"


def test_not_well_formed_xml_gets_fo03(client: SoapClient) -> None:
    response = client.post(b"<soapenv:Envelope")
    assert fo03_code(response.content) == ("StUF055", "client")


def test_body_without_di01_is_refused(client: SoapClient) -> None:
    other = etree.Element(f"{{{STUF_NS}}}Bv03Bericht")
    response = client.post(wrap_soap(other))
    assert fo03_code(response.content) == ("StUF055", "client")


def test_oversized_body_gets_413(sim_config: SimulatorConfig, certs: DevCerts) -> None:
    sim_config.max_body_bytes = 10_000
    with Simulator(sim_config) as sim:
        client = SoapClient(sim.soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))
        response = client.post(build_di01(os.urandom(20_000)).body)
        assert response.status_code == 413
        assert list(sim.config.storage.iterdir()) == [sim.config.storage / ".staging"]


def test_other_paths_and_methods(client: SoapClient, simulator: Simulator, certs: DevCerts) -> None:
    cert, verify = certs.portal_client.as_tuple(), str(certs.ca_cert)
    get = requests.get(simulator.soap_url, cert=cert, verify=verify, timeout=5)
    assert get.status_code == 405
    other = simulator.soap_url.replace("/rinis/ggk", "/elders")
    assert requests.post(other, data=b"x", cert=cert, verify=verify, timeout=5).status_code == 404


def test_storage_survives_restart_for_duplicate_detection(
    sim_config: SimulatorConfig, certs: DevCerts
) -> None:
    message = build_di01()
    with Simulator(sim_config) as sim:
        client = SoapClient(sim.soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))
        first = client.post(message.body)
    with Simulator(sim_config) as sim:
        client = SoapClient(sim.soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))
        second = client.post(message.body)
        changed = client.post(build_di01(b"anders", referentienummer=message.referentienummer).body)
    assert etree.tostring(parse_answer(first.content)) == etree.tostring(
        parse_answer(second.content)
    )
    assert fo03_code(changed.content) == ("StUF016", "client")
