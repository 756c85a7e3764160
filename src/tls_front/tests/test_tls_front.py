"""tls_front behaves like the production nginx as far as the application can tell.

Every test talks real TLS to a proxy started with :func:`tls_front.start_in_thread`, in
front of an echo upstream that reports what actually arrived.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote, unquote

import pytest
from cryptography import x509

from tls_front import ProxyHandle, start_in_thread

from .conftest import PROXY_SECRET
from .pki import CLIENT_CN, Pki
from .upstream import EchoServer, pattern, pattern_sha256

MB = 1024 * 1024


class HasPort(Protocol):
    @property
    def port(self) -> int: ...


class Listening(NamedTuple):
    """Anything with a ``port``: a :class:`ProxyHandle`, or the CLI's port."""

    port: int


SRC = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


def client_context(
    pki: Pki,
    *,
    cert: bool = True,
    foreign: bool = False,
    tls_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A client context trusting the test CA, optionally presenting a certificate."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if foreign:
        context.load_cert_chain(str(pki.foreign_cert), str(pki.foreign_key))
    elif cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    if tls_version is not None:
        context.minimum_version = context.maximum_version = tls_version
    return context


def connection(proxy: HasPort, context: ssl.SSLContext) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", proxy.port, context=context, timeout=60)


def request(
    proxy: HasPort,
    context: ssl.SSLContext,
    method: str = "GET",
    path: str = "/echo",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request via http.client; headers are sent exactly as given (duplicates too)."""
    headers = list(headers)
    conn = connection(proxy, context)
    try:
        skip_host = any(name.lower() == "host" for name, _ in headers)
        conn.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def header_values(payload: dict[str, Any], name: str) -> list[str]:
    """Values of a header as the upstream received it (case-insensitive, all copies)."""
    return [value for key, value in payload["headers"] if key.lower() == name.lower()]


def raw_exchange(
    proxy: ProxyHandle, context: ssl.SSLContext, data: bytes | Iterable[bytes]
) -> bytes:
    """Send raw bytes over TLS, then read the response (up to EOF or Content-Length)."""
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        for block in [data] if isinstance(data, bytes) else data:
            tls.sendall(block)
        return read_response(tls)


def read_response(tls: ssl.SSLSocket, received: bytes = b"") -> bytes:
    """Read until EOF, or until a response with Content-Length is complete, like clients
    do (they do not wait for the close)."""
    buffer = bytearray(received)
    while True:
        head, sep, body = bytes(buffer).partition(b"\r\n\r\n")
        if sep:
            _, headers, _ = split_response(head + sep)
            if "content-length" in headers and len(body) >= int(headers["content-length"]):
                return bytes(buffer)
        chunk = tls.recv(256 * 1024)
        if not chunk:
            return bytes(buffer)
        buffer += chunk


def read_until_eof(tls: ssl.SSLSocket) -> bytes:
    received = bytearray()
    while chunk := tls.recv(256 * 1024):
        received += chunk
    return bytes(received)


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll *condition* until true or *timeout* (synchronisation without fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def chunked(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunked framing with an extension on every chunk and a trailer field."""
    for block in blocks:
        yield f"{len(block):x};note=x\r\n".encode() + block + b"\r\n"
    yield b"0\r\nX-Trailer: done\r\n\r\n"


# --------------------------------------------------------------------------- header contract


def test_verified_client_certificate_is_passed_on_like_nginx(proxy: ProxyHandle, pki: Pki) -> None:
    response, body = request(proxy, client_context(pki), headers=[("Host", "localhost")])
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    payload = json.loads(body)

    assert header_values(payload, "X-SSL-Client-Verify") == ["SUCCESS"]
    [escaped] = header_values(payload, "X-SSL-Client-Cert")
    # URL-encoded exactly like $ssl_client_escaped_cert: no newlines, spaces, '+' or '/'.
    assert not set(escaped) & set("\n /+=")
    pem = unquote(escaped)
    assert quote(pem, safe="") == escaped
    assert pem == pki.client_cert.read_text()
    assert x509.load_pem_x509_certificate(pem.encode()) == x509.load_pem_x509_certificate(
        pki.client_cert.read_bytes()
    )
    assert header_values(payload, "X-Forwarded-Proto") == ["https"]
    assert header_values(payload, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(payload, "Connection") == ["close"]
    assert header_values(payload, "Host") == ["localhost"]


def test_without_certificate_verify_is_none_and_cert_empty(proxy: ProxyHandle, pki: Pki) -> None:
    response, body = request(proxy, client_context(pki, cert=False))
    assert response.status == 200
    payload = json.loads(body)
    assert header_values(payload, "X-SSL-Client-Verify") == ["NONE"]
    assert header_values(payload, "X-SSL-Client-Cert") == [""]
    assert header_values(payload, "X-Forwarded-Proto") == ["https"]


@pytest.mark.parametrize("with_cert", [True, False], ids=["with-cert", "without-cert"])
def test_spoofed_headers_are_removed(proxy: ProxyHandle, pki: Pki, with_cert: bool) -> None:
    fake_pem = quote(pki.foreign_cert.read_text(), safe="")
    spoofed = [
        ("X-SSL-Client-Cert", fake_pem),
        ("x-ssl-client-cert", fake_pem),
        ("X-SSL-Client-Verify", "SUCCESS"),
        ("X-SSL-CLIENT-VERIFY", "SUCCESS"),
        ("X_SSL_Client_Verify", "SUCCESS"),  # WSGI would map this to the same variable
        ("X_SSL_CLIENT_CERT", fake_pem),
        ("X-Forwarded-For", "10.1.2.3"),
        ("x-forwarded-proto", "http"),
        ("Connection", "keep-alive"),
        ("X-Something-Else", "kept"),
        ("X-MSD-Proxy-Secret", "a-guess"),
        ("X_MSD_Proxy_Secret", "a-guess"),
    ]
    response, body = request(proxy, client_context(pki, cert=with_cert), headers=spoofed)
    assert response.status == 200
    payload = json.loads(body)

    assert header_values(payload, "X-SSL-Client-Verify") == ["SUCCESS" if with_cert else "NONE"]
    [cert] = header_values(payload, "X-SSL-Client-Cert")
    assert cert == (quote(pki.client_cert.read_text(), safe="") if with_cert else "")
    assert header_values(payload, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(payload, "X-Forwarded-Proto") == ["https"]
    assert header_values(payload, "Connection") == ["close"]
    assert header_values(payload, "X-Something-Else") == ["kept"]
    assert header_values(payload, "X-MSD-Proxy-Secret") == [PROXY_SECRET]
    assert not [name for name, _ in payload["headers"] if "_" in name]


def test_without_a_configured_secret_no_secret_header_reaches_the_upstream(
    proxy_without_secret: ProxyHandle, pki: Pki
) -> None:
    response, body = request(
        proxy_without_secret, client_context(pki), headers=[("X-MSD-Proxy-Secret", "a-guess")]
    )
    assert response.status == 200
    assert header_values(json.loads(body), "X-MSD-Proxy-Secret") == []


def test_a_secret_that_could_break_the_header_is_refused(pki: Pki, upstream: EchoServer) -> None:
    with pytest.raises(ValueError, match="proxy_secret"):
        start_in_thread(
            "127.0.0.1",
            0,
            upstream.address,
            pki.server_cert,
            pki.server_key,
            pki.ca,
            proxy_secret="x\r\nX-SSL-Client-Verify: SUCCESS",
        )


def test_required_mode_accepts_a_verified_certificate(
    proxy_required: ProxyHandle, pki: Pki
) -> None:
    response, body = request(proxy_required, client_context(pki))
    assert response.status == 200
    assert header_values(json.loads(body), "X-SSL-Client-Verify") == ["SUCCESS"]


def test_required_mode_refuses_tls12_client_without_certificate_in_handshake(
    proxy_required: ProxyHandle, pki: Pki, upstream: EchoServer
) -> None:
    before = len(upstream.requests)
    context = client_context(pki, cert=False, tls_version=ssl.TLSVersion.TLSv1_2)
    with (
        socket.create_connection(("127.0.0.1", proxy_required.port), timeout=10) as sock,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(sock, server_hostname="127.0.0.1")
    assert len(upstream.requests) == before


def _assert_refused_tls13(proxy: ProxyHandle, context: ssl.SSLContext) -> None:
    """TLS 1.3 clients send their certificate after the server's Finished, so the
    client-side handshake "succeeds" and the server's refusal (an alert) shows on the
    first read. Either way no HTTP response may come back."""
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):  # noqa: PT012
        received = raw_exchange(proxy, context, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        # A bare EOF also means "refused"; turn it into the expected exception type.
        if not received:
            raise ConnectionResetError("closed without a response")


def test_required_mode_refuses_tls13_client_without_certificate(
    proxy_required: ProxyHandle, pki: Pki, upstream: EchoServer
) -> None:
    before = len(upstream.requests)
    _assert_refused_tls13(
        proxy_required, client_context(pki, cert=False, tls_version=ssl.TLSVersion.TLSv1_3)
    )
    assert len(upstream.requests) == before


def test_certificate_from_another_ca_is_refused(
    proxy: ProxyHandle, pki: Pki, upstream: EchoServer
) -> None:
    """Unlike nginx (which completes the handshake and answers 400), the handshake fails."""
    before = len(upstream.requests)
    _assert_refused_tls13(proxy, client_context(pki, foreign=True))
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock,
        pytest.raises(ssl.SSLError),
    ):
        client_context(pki, foreign=True, tls_version=ssl.TLSVersion.TLSv1_2).wrap_socket(
            sock, server_hostname="127.0.0.1"
        )
    assert len(upstream.requests) == before


def test_tls_below_1_2_is_refused(
    proxy: ProxyHandle, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    context = client_context(pki)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer TLS 1.1 at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock,
        pytest.raises((ssl.SSLError, ConnectionResetError)),
    ):
        context.wrap_socket(sock, server_hostname="127.0.0.1")
    wait_for(lambda: any("UNSUPPORTED_PROTOCOL" in r.getMessage() for r in caplog.records))


# --------------------------------------------------------------------------- bodies


def test_20mb_post_with_content_length_arrives_byte_exact(proxy: ProxyHandle, pki: Pki) -> None:
    size = 20 * MB
    conn = connection(proxy, client_context(pki))
    try:
        conn.putrequest("POST", "/echo")
        conn.putheader("Content-Length", str(size))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        for block in pattern(size):
            conn.send(block)
        response = conn.getresponse()
        payload = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200
    assert payload["body_size"] == size
    assert payload["body_sha256"] == pattern_sha256(size)


def test_chunked_post_passes_through_byte_exact(proxy: ProxyHandle, pki: Pki) -> None:
    """Chunk sizes, extensions and trailers reach the upstream unchanged."""
    sizes = [1, 100, 65536, 65537, 3, 3 * MB, 7]
    blocks = [next(pattern(n)) if n <= 65536 else b"".join(pattern(n)) for n in sizes]
    wire = list(chunked(blocks))
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, body = split_response(raw_exchange(proxy, client_context(pki), [head, *wire]))
    assert status == 200
    payload = json.loads(body)
    assert header_values(payload, "Transfer-Encoding") == ["chunked"]
    assert payload["body_size"] == sum(sizes)
    assert payload["body_sha256"] == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert payload["raw_sha256"] == hashlib.sha256(b"".join(wire)).hexdigest()
    assert payload["trailers"] == ["X-Trailer: done"]


def test_spoofed_trailers_are_removed(proxy: ProxyHandle, pki: Pki) -> None:
    data = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n"
        b"X-SSL-Client-Verify: SUCCESS\r\nX_SSL_Client_Cert: x\r\nX-Checksum: 1\r\n\r\n"
    )
    status, _, body = split_response(raw_exchange(proxy, client_context(pki, cert=False), data))
    assert status == 200
    payload = json.loads(body)
    assert payload["trailers"] == ["X-Checksum: 1"]
    assert payload["body_sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_chunked_post_from_http_client(proxy: ProxyHandle, pki: Pki) -> None:
    conn = connection(proxy, client_context(pki))
    try:
        conn.request("POST", "/echo", body=pattern(5 * MB), encode_chunked=True)
        response = conn.getresponse()
        payload = json.loads(response.read())
    finally:
        conn.close()
    assert payload["body_size"] == 5 * MB
    assert payload["body_sha256"] == pattern_sha256(5 * MB)


@pytest.mark.parametrize("framing", ["length", "close"])
def test_50mb_response_arrives_complete(proxy: ProxyHandle, pki: Pki, framing: str) -> None:
    size = 50 * MB
    conn = connection(proxy, client_context(pki))
    try:
        conn.request("GET", f"/stream?size={size}&framing={framing}")
        response = conn.getresponse()
        digest, received = hashlib.sha256(), 0
        while block := response.read(256 * 1024):
            digest.update(block)
            received += len(block)
    finally:
        conn.close()
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    assert received == size
    assert digest.hexdigest() == pattern_sha256(size)


def test_expect_100_continue_is_passed_through(proxy: ProxyHandle, pki: Pki) -> None:
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock,
        client_context(pki).wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = tls.recv(1024)
            assert chunk, "closed before the interim response"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 ")
        tls.sendall(b"hello world")
        rest = read_response(tls, interim.partition(b"\r\n\r\n")[2])
    status, _, body = split_response(rest)
    assert status == 200
    assert json.loads(body)["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()


def test_upstream_may_answer_before_reading_the_body(proxy: ProxyHandle, pki: Pki) -> None:
    """An early response (413, 401) is relayed while the body is still arriving."""
    size = 8 * MB
    blocks = list(pattern(size))
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock,
        client_context(pki).wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(f"POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
        tls.sendall(blocks[0])
        status, headers, body = split_response(read_response(tls))
        assert status == 413
        assert headers["connection"] == "close"
        assert body == b"too large\n"
        for block in blocks[1:]:  # the rest of the upload is still accepted
            tls.sendall(block)
        assert read_until_eof(tls) == b""


# --------------------------------------------------------------------------- errors


def test_upstream_down_answers_502(proxy_to_nowhere: ProxyHandle, pki: Pki) -> None:
    for _ in range(2):  # and the proxy is still there for the next request
        response, body = request(proxy_to_nowhere, client_context(pki))
        assert response.status == 502
        assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert b"Bad Gateway" in body
        assert len(body) < 200


# --------------------------------------------------------------------------- several upstreams


def test_requests_are_balanced_round_robin_over_the_upstreams(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    first, second = EchoServer().start(), EchoServer().start()
    try:
        with start_in_thread(
            "127.0.0.1", 0, [first.address, second.address], pki.server_cert, pki.server_key, pki.ca
        ) as handle:
            for number in range(4):
                response, _body = request(handle, client_context(pki), path=f"/echo?n={number}")
                assert response.status == 200
        assert first.requests == [("GET", "/echo?n=0"), ("GET", "/echo?n=2")]
        assert second.requests == [("GET", "/echo?n=1"), ("GET", "/echo?n=3")]
        served = [r.getMessage() for r in caplog.records if r.name == "tls_front"]
        assert f"upstream={first.address}" in served[0]
        assert f"upstream={second.address}" in served[1]
    finally:
        first.stop()
        second.stop()


def test_an_upstream_that_refuses_is_skipped_for_the_next(
    pki: Pki, upstream: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    with socket.socket() as down:  # bound, not listening: connections are refused
        down.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{down.getsockname()[1]}"
        with start_in_thread(
            "127.0.0.1", 0, [dead, upstream.address], pki.server_cert, pki.server_key, pki.ca
        ) as handle:
            before = len(upstream.requests)
            for _ in range(3):  # the turn of the dead one, and of the live one
                response, _body = request(handle, client_context(pki))
                assert response.status == 200
            assert len(upstream.requests) == before + 3
        lines = [r.getMessage() for r in caplog.records if r.name == "tls_front"]
        assert any(f"skipped {dead} ConnectionRefusedError" in line for line in lines)

        # None left: a 502, as with one upstream.
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            with start_in_thread(
                "127.0.0.1",
                0,
                [dead, f"127.0.0.1:{other.getsockname()[1]}"],
                pki.server_cert,
                pki.server_key,
                pki.ca,
            ) as handle:
                response, body = request(handle, client_context(pki))
                assert response.status == 502
                assert b"Bad Gateway" in body


def test_request_head_over_64k_answers_431(
    proxy: ProxyHandle, pki: Pki, upstream: EchoServer
) -> None:
    before = len(upstream.requests)
    data = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    status, _, _ = split_response(raw_exchange(proxy, client_context(pki), data))
    assert status == 431
    assert len(upstream.requests) == before


@pytest.mark.parametrize(
    ("head", "status"),
    [
        pytest.param(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
            id="te-and-cl",
        ),
        pytest.param(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, id="te-gzip"
        ),
        pytest.param(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            400,
            id="conflicting-cl",
        ),
        pytest.param(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, id="negative-cl"
        ),
        pytest.param(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400, id="obs-fold"),
        pytest.param(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nX-SSL-Client-Verify : SUCCESS\r\n\r\n",
            400,
            id="space-colon",
        ),
        pytest.param(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: b\nX-SSL-Client-Verify: SUCCESS\r\n\r\n",
            400,
            id="bare-lf",
        ),
        pytest.param(b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n", 505, id="http2"),
        pytest.param(b"GET /echo HTTP/1.1\r\n\r\n", 400, id="no-host"),
        pytest.param(b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, id="two-hosts"),
        pytest.param(b"GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="request-line"),
    ],
)
def test_malformed_requests_are_refused(
    proxy: ProxyHandle, pki: Pki, upstream: EchoServer, head: bytes, status: int
) -> None:
    before = len(upstream.requests)
    got, headers, body = split_response(raw_exchange(proxy, client_context(pki), head))
    assert got == status
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.startswith(str(status).encode())
    assert len(upstream.requests) == before


def test_malformed_chunk_answers_400(proxy: ProxyHandle, pki: Pki) -> None:
    data = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
    )
    status, _, _ = split_response(raw_exchange(proxy, client_context(pki), data))
    assert status == 400


def test_misbehaving_clients_do_not_kill_the_proxy(
    proxy: ProxyHandle, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    context = client_context(pki)
    # Plain HTTP on the TLS port: the handshake fails.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            while sock.recv(1024):
                pass
        except ConnectionResetError:
            pass
    # Connect and leave without a word.
    socket.create_connection(("127.0.0.1", proxy.port), timeout=10).close()
    # TLS, half a request head, gone.
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /echo HTTP/1.1\r\nHo")
    # TLS, half a request body, gone.
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        tls.sendall(b"x" * 300_000)
    # A large download abandoned after the first block.
    conn = connection(proxy, context)
    conn.request("GET", f"/stream?size={50 * MB}")
    conn.getresponse().read(65536)
    conn.close()

    response, _ = request(proxy, context)
    assert response.status == 200
    wait_for(lambda: any("TLS handshake failed" in r.getMessage() for r in caplog.records))
    wait_for(lambda: any("POST /echo" in r.getMessage() for r in caplog.records))


def test_one_log_line_per_request(
    proxy: ProxyHandle, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    request(proxy, client_context(pki), path="/echo?token=secret")
    request(proxy, client_context(pki, cert=False), path="/nowhere")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "tls_front"]

    wait_for(lambda: len(lines()) >= 2)
    with_cert, without_cert = lines()
    assert '"GET /echo HTTP/1.1" 200 ' in with_cert
    assert f"client-cert=SUCCESS cn='{CLIENT_CN}'" in with_cert
    assert "secret" not in with_cert
    assert '"GET /nowhere HTTP/1.1" 404 ' in without_cert
    assert "client-cert=NONE" in without_cert


def test_grote_berichten_tokens_stay_out_of_the_log(
    proxy: ProxyHandle, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tls_front")
    token = "Zq3vT0kEnOfAGrootBericht"
    request(proxy, client_context(pki), path=f"/rinis/gb/{token}/")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "tls_front"]

    wait_for(lambda: len(lines()) >= 1)
    assert '"GET /rinis/gb/…/ HTTP/1.1"' in lines()[0]
    assert token not in "".join(lines())


# --------------------------------------------------------------------------- life cycle


def test_start_in_thread_is_quick_and_stop_is_clean(pki: Pki, upstream: EchoServer) -> None:
    started = time.monotonic()
    handle = start_in_thread(
        "127.0.0.1", 0, upstream.address, pki.server_cert, pki.server_key, pki.ca, "optional"
    )
    assert time.monotonic() - started < 0.5
    assert handle.port > 0
    assert handle.url == f"https://127.0.0.1:{handle.port}"
    response, _ = request(handle, client_context(pki))
    assert response.status == 200

    # An idle client holding a connection must not delay stopping.
    with (
        socket.create_connection(("127.0.0.1", handle.port), timeout=10) as sock,
        client_context(pki).wrap_socket(sock, server_hostname="127.0.0.1"),
    ):
        stopping = time.monotonic()
        handle.stop()
        assert time.monotonic() - stopping < 2
    handle.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", handle.port), timeout=2).close()


def test_start_in_thread_reports_errors_synchronously(pki: Pki, upstream: EchoServer) -> None:
    with pytest.raises(FileNotFoundError):
        start_in_thread(
            "127.0.0.1", 0, upstream.address, pki.server_cert, Path("/nonexistent"), pki.ca
        )
    with (
        start_in_thread(
            "127.0.0.1", 0, upstream.address, pki.server_cert, pki.server_key, pki.ca
        ) as first,
        pytest.raises(OSError, match=r"(?i)in use"),
    ):
        start_in_thread(
            "127.0.0.1", first.port, upstream.address, pki.server_cert, pki.server_key, pki.ca
        )


def test_cli_serves_and_stops_on_sigterm(pki: Pki, upstream: EchoServer) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [
        sys.executable,
        "-m",
        "tls_front",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream.address,
        "--cert",
        str(pki.server_cert),
        "--key",
        str(pki.server_key),
        "--ca",
        str(pki.ca),
        "--verify-client",
        "required",
    ]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        fd = process.stderr.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        output = b""
        while b"listening on https://127.0.0.1:" not in output:
            assert selector.select(timeout=max(0.0, deadline - time.monotonic())), output
            data = os.read(fd, 4096)  # unbuffered: select() and the data stay in step
            assert data, f"tls_front exited early: {output!r}"
            output += data
        port = int(output.split(b"https://127.0.0.1:")[1].split()[0])
        response, body = request(Listening(port), client_context(pki))
        assert response.status == 200
        assert header_values(json.loads(body), "X-SSL-Client-Verify") == ["SUCCESS"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
