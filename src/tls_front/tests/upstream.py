"""A tiny upstream HTTP server standing in for Django: it tells what arrived.

``/echo`` (any method) answers JSON with the request line, the headers exactly as received
(a list, so duplicates stay visible) and size + SHA-256 of the body, both decoded and as it
came over the wire (so chunk framing can be checked byte-exact). ``/stream?size=N`` sends
N deterministic bytes (``&framing=close`` without Content-Length, delimited by closing the
connection). ``/reject`` answers 413 at once, before reading (and discarding) the body.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BLOCK = 64 * 1024


def pattern(size: int) -> Iterator[bytes]:
    """Deterministic test data whose blocks all differ (so a lost block is noticed)."""
    index = 0
    while size > 0:
        block = (hashlib.sha256(index.to_bytes(8, "big")).digest() * (BLOCK // 32))[:size]
        yield block
        size -= len(block)
        index += 1


def pattern_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for block in pattern(size):
        digest.update(block)
    return digest.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EchoServer

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr logging."""

    def _dispatch(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path))
        path = urlsplit(self.path).path
        if path == "/echo":
            self._echo()
        elif path == "/stream":
            self._stream()
        elif path == "/reject":
            # Answer before reading the body, then discard it, as Django's runserver does.
            self._reply(413, b"too large\n", "text/plain")
            self.wfile.flush()
            self._read_body()
        else:
            self._reply(404, b"not found\n", "text/plain")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _dispatch

    def _read_body(self) -> tuple[int, str, int, str]:
        """Return (size, sha256) of the decoded body and of the raw bytes on the wire."""
        self.trailers: list[str] = []
        decoded, raw = hashlib.sha256(), hashlib.sha256()
        size = raw_size = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                raw.update(line)
                raw_size += len(line)
                chunk = int(line.split(b";")[0].strip(), 16)
                if chunk == 0:
                    break
                remaining = chunk
                while remaining:
                    data = self.rfile.read(min(BLOCK, remaining))
                    decoded.update(data)
                    raw.update(data)
                    remaining -= len(data)
                size += chunk
                crlf = self.rfile.read(2)
                raw.update(crlf)
                raw_size += chunk + 2
            while True:  # trailers
                line = self.rfile.readline(1024)
                raw.update(line)
                raw_size += len(line)
                if line in (b"\r\n", b""):
                    break
                self.trailers.append(line.decode("latin-1").rstrip("\r\n"))
        else:
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining:
                data = self.rfile.read(min(BLOCK, remaining))
                if not data:
                    break
                decoded.update(data)
                raw.update(data)
                size += len(data)
                raw_size += len(data)
                remaining -= len(data)
        return size, decoded.hexdigest(), raw_size, raw.hexdigest()

    def _echo(self) -> None:
        size, sha, raw_size, raw_sha = self._read_body()
        payload = {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body_size": size,
            "body_sha256": sha,
            "raw_size": raw_size,
            "raw_sha256": raw_sha,
            "trailers": self.trailers,
        }
        self._reply(200, json.dumps(payload).encode(), "application/json")

    def _stream(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        size = int(query["size"][0])
        framing = query.get("framing", ["length"])[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if framing == "length":
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        for block in pattern(size):
            self.wfile.write(block)
        self.close_connection = True

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class EchoServer(ThreadingHTTPServer):
    """The server; ``requests`` lists (method, path) of every request that arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet: tests abort upstream connections on purpose (broken bodies)."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def start(self) -> EchoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
