"""A tiny HTTPS file server playing the portal's Grote Berichten endpoint in tests.

It does what the GB standard asks of a sender: two-sided TLS, only the RINIS
certificate (by the OIN in its subject serialNumber) admitted, ``ETag``,
``Accept-Ranges``, ``Range`` and ``If-Range`` honoured. Every request is recorded so a
test can check that the simulator really resumed with a range request.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from rinis_simulator.devcerts import RINIS_OIN, DevCerts

_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class Recorded:
    """One request as the file server saw it."""

    path: str
    range: str | None
    if_range: str | None
    status: int
    client_serial: str | None


@dataclass
class FileSpec:
    """What the server serves."""

    content: bytes
    etag: str = '"v1"'
    #: When set, the ETag changes to this after the first response (file replaced).
    next_etag: str | None = None
    path: str = "/gb/MSD_WMO-BASIS_0363_2026HJ01.csv"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # stay quiet in test output
        pass

    def do_GET(self) -> None:
        spec = self.server.spec
        serial = self._client_serial()
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if serial != RINIS_OIN:
            status, start, end = 403, 0, -1
        elif self.path != spec.path:
            status, start, end = 404, 0, -1
        else:
            status, start, end = 200, 0, len(spec.content) - 1
            match = _RANGE_RE.match(range_header or "")
            if match and (if_range is None or if_range == spec.etag):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else len(spec.content) - 1
                status = 206 if start < len(spec.content) else 416
        self.server.record(Recorded(self.path, range_header, if_range, status, serial))
        self.send_response(status)
        self.send_header("ETag", spec.etag)
        if spec.next_etag:
            spec.etag, spec.next_etag = spec.next_etag, None
        self.send_header("Accept-Ranges", "bytes")
        if status in (200, 206):
            body = spec.content[start : end + 1]
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(spec.content)}")
        else:
            body = b""
            if status == 416:
                self.send_header("Content-Range", f"bytes */{len(spec.content)}")
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for offset in range(0, len(body), 16 * 1024):
                self.wfile.write(body[offset : offset + 16 * 1024])
        except OSError:
            self.close_connection = True  # the client broke off: that is the point

    def _client_serial(self) -> str | None:
        cert = cast(ssl.SSLSocket, self.connection).getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "serialNumber":
                    return value
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, spec: FileSpec, context: ssl.SSLContext) -> None:
        self.spec = spec
        self.context = context
        self.requests: list[Recorded] = []
        self.changed = threading.Condition()
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

    def record(self, item: Recorded) -> None:
        with self.changed:
            self.requests.append(item)
            self.changed.notify_all()


@dataclass
class RangeFileServer:
    """Start/stop wrapper; ``url`` is the senderUrl to announce."""

    certs: DevCerts
    spec: FileSpec
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> RangeFileServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(*self.certs.portal_server.as_tuple())
        context.load_verify_locations(cafile=str(self.certs.ca_cert))
        self._server = _Server(self.spec, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
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
        return f"https://127.0.0.1:{self._server.server_address[1]}{self.spec.path}"

    @property
    def requests(self) -> list[Recorded]:
        assert self._server is not None
        with self._server.changed:
            return list(self._server.requests)
