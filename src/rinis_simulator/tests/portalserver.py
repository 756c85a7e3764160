"""A tiny HTTPS receiver playing the portal's inbound endpoint (``POST /rinis/ggk/``).

Stdlib only, like the real thing's front door: two-sided TLS with a client certificate
from the dev CA required, and only the RINIS certificate (by the OIN in its subject
serialNumber) admitted. Every request is recorded with the moment it arrived; the
answer is a canned Bv03 (crossRefnummer = the request's referentienummer, as the
portal answers) unless the test queued something else: a Fo03 fault, a plain 503, or
a dropped connection.

The Bv03/Fo03 are built with the simulator's own StUF helpers: they are what the
portal must send (the WSDL's output and fault messages), and the tests here are about
the simulator's client side, not about those answers.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from lxml import etree

from rinis_simulator.devcerts import RINIS_OIN, DevCerts
from rinis_simulator.stuf import (
    STUF_NS,
    AnswerAddressing,
    StufError,
    Systeem,
    bv03_response,
    fo03_fault,
)

PATH = "/rinis/ggk/"


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    client_serial: str | None
    at: float  # time.monotonic()
    answered: str


@dataclass(frozen=True)
class Canned:
    """How to answer one request: ``bv03``, ``fo03`` (with *code*), ``http503``, ``drop``."""

    mode: str
    code: str = "StUF055"
    plek: str = "client"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # stay quiet in test output
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        serial = self._client_serial()
        canned = self.server.next_answer()
        if serial != RINIS_OIN:
            canned = Canned("http403")
        elif self.path != PATH:
            canned = Canned("http404")
        self.server.record(
            Received(
                self.path, dict(self.headers.items()), body, serial, time.monotonic(), canned.mode
            )
        )
        if canned.mode == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if canned.mode.startswith("http"):
            status = int(canned.mode[4:])
            self._send(status, "text/plain; charset=utf-8", b"nee\n")
            return
        addr = _answer_addressing(body)
        if canned.mode == "fo03":
            error = StufError(canned.code, canned.plek, "Geweigerd door de testontvanger")
            self._send(500, "text/xml; charset=utf-8", fo03_fault(addr, error, "test", None))
        else:
            self._send(200, "text/xml; charset=utf-8", bv03_response(addr, None))

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _client_serial(self) -> str | None:
        cert = cast(ssl.SSLSocket, self.connection).getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "serialNumber":
                    return value
        return None


def _answer_addressing(body: bytes) -> AnswerAddressing:
    """Address the answer like the portal: back to CBS, crossRef = the request's ref."""
    root = etree.fromstring(body)
    ref = root.findtext(f".//{{{STUF_NS}}}referentienummer") or "onbekend"
    gemeente = root.findtext(f".//{{{STUF_NS}}}ontvanger/{{{STUF_NS}}}organisatie") or "0000"
    return AnswerAddressing(
        zender=Systeem(organisatie=gemeente, applicatie="MSDPortaal"),
        ontvanger=Systeem(organisatie="CBS", applicatie="GGk"),
        cross_ref=ref,
        referentienummer=str(uuid.uuid4()),
        tijdstip_bericht=time.strftime("%Y%m%d%H%M%S") + "000",
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.received: list[Received] = []
        self.answers: deque[Canned] = deque()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(cast(socket.socket, request), server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            tls.close()

    def next_answer(self) -> Canned:
        with self.lock:
            return self.answers.popleft() if self.answers else Canned("bv03")

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)


@dataclass
class PortalReceiver:
    """Start/stop wrapper; ``url`` is what the simulator's ``portal_url`` should be."""

    certs: DevCerts
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> PortalReceiver:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(*self.certs.portal_server.as_tuple())
        context.load_verify_locations(cafile=str(self.certs.ca_cert))
        self._server = _Server(context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def queue(self, *answers: Canned) -> None:
        """Answer the next requests like this (then Bv03 again)."""
        assert self._server is not None
        with self._server.lock:
            self._server.answers.extend(answers)

    @property
    def received(self) -> list[Received]:
        assert self._server is not None
        with self._server.lock:
            return list(self._server.received)
