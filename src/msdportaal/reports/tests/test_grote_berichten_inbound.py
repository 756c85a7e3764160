"""A report announced by Grote Berichten is fetched (resuming with Range) before Bv03."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from msdportaal.reports.models import Report
from msdportaal.transport.stuf import (
    SOAP_ACTION_DI01,
    Di01Message,
    GbMetadata,
    WsAddressing,
    build_gb_metadata,
    format_tijdstip,
    gb_filename,
    iter_di01_soap,
)

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4000 + b"\n%%EOF\n"


class _Handler(BaseHTTPRequestHandler):
    server: _RinisFileServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        if match and self.headers.get("If-Range") == '"v1"':
            start = int(match[1])
        server.ranges.append(self.headers.get("Range"))
        body = PDF[start:]
        self.send_response(206 if start else 200)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.break_after is not None:
            cut, server.break_after = server.break_after, None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True  # the line drops mid-transfer
            return
        self.wfile.write(body)


class _RinisFileServer(ThreadingHTTPServer):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.ranges: list[str | None] = []
        self.break_after: int | None = 100_000


@pytest.fixture
def rinis_file_server(dev_certs, settings) -> Iterator[_RinisFileServer]:
    """RINIS's side of a GB pull: HTTPS, and only our portal certificate gets in."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(dev_certs.simulator.cert, dev_certs.simulator.key)
    context.load_verify_locations(dev_certs.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    server = _RinisFileServer(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MSD_RINIS_CLIENT_CERT = str(dev_certs.portal_client.cert)
    settings.MSD_RINIS_CLIENT_KEY = str(dev_certs.portal_client.key)
    settings.MSD_RINIS_CA_BUNDLE = str(dev_certs.ca_cert)
    yield server
    server.shutdown()
    server.server_close()


def gb_di01(url: str, checksum: str) -> bytes:
    metadata = GbMetadata(
        filename=gb_filename("rapport-groot.pdf"),
        size=len(PDF),
        checksum=checksum,
        content_type="application/pdf",
        sender_url=url,
    )
    document = build_gb_metadata(metadata)
    message = Di01Message(
        zender_organisatie="CBS",
        zender_applicatie="GGk",
        ontvanger_organisatie="0363",
        ontvanger_applicatie="MSDPortaal",
        referentienummer=str(uuid.uuid4()),
        tijdstip_bericht=format_tijdstip(timezone.now()),
        functie="MSDOPORDE",
        referentienummer_bericht="CBS-GB-1",
        applicatie_versie="0001",
        applicatie_subversie="0000",
        functie_versie="0001",
        functie_subversie="0000",
        bestandsnaam="rapport-groot.pdf",
        content_type="application/xml",
    )
    wsa = WsAddressing(
        to="https://portaal.example/rinis/ggk/", from_address="urn:rinis", action=SOAP_ACTION_DI01
    )
    return b"".join(iter_di01_soap(message, io.BytesIO(document), wsa=wsa))


def post(body: bytes, headers: dict[str, str]):
    return Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml",
        HTTP_SOAPACTION=f'"{SOAP_ACTION_DI01}"',
        **headers,
    )


def test_a_grote_berichten_report_is_fetched_and_resumed(
    rinis_headers, municipality_a, rinis_file_server
):
    url = f"https://127.0.0.1:{rinis_file_server.server_address[1]}/rapport"
    response = post(gb_di01(url, hashlib.sha256(PDF).hexdigest()), rinis_headers)
    assert response.status_code == 200, response.content.decode()
    assert b"Bv03Bericht" in response.content
    report = Report.objects.get()
    assert (report.size, report.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    assert report.file_name == "rapport-groot.pdf"
    first, resumed = rinis_file_server.ranges  # broken once, then resumed where it broke off
    assert first is None
    assert resumed == "bytes=65536-"


def test_a_wrong_checksum_is_refused_and_nothing_is_stored(
    rinis_headers, municipality_a, rinis_file_server
):
    rinis_file_server.break_after = None
    url = f"https://127.0.0.1:{rinis_file_server.server_address[1]}/rapport"
    response = post(gb_di01(url, "0" * 64), rinis_headers)
    assert response.status_code == 500
    assert b"StUF046" in response.content
    assert not Report.objects.exists()


def test_base64_is_not_needed_for_the_announcement():
    # The announcement itself is small: the file never travels inside the envelope.
    body = gb_di01("https://127.0.0.1:1/x", "0" * 64)
    assert len(body) < 10_000
    assert base64.b64encode(PDF[:30]) not in body
