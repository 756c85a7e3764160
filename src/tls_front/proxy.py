"""A TLS-terminating reverse proxy that behaves like the portal's production nginx.

Why this exists: in production nginx ends TLS, verifies client certificates (mutual TLS
for the RINIS-facing URLs) and hands the verified certificate to Django in two headers.
Developer machines and the test suite have no nginx, yet the application code that reads
those headers (:mod:`msdportaal.transport.client_certs`) must run along the same path. This
module reproduces exactly the part of nginx the application depends on:

* TLS >= 1.2 with a server certificate, client certificates checked against one CA file
  (``optional`` like ``ssl_verify_client optional``, or ``required``);
* per request the headers ``X-SSL-Client-Cert`` (``$ssl_client_escaped_cert``: the PEM,
  URL-encoded), ``X-SSL-Client-Verify`` (``SUCCESS`` or ``NONE``), ``X-Forwarded-Proto:
  https``, ``X-Forwarded-For: <client ip>`` and, when configured, ``X-MSD-Proxy-Secret``
  (the shared secret that tells the portal these headers come from the proxy and not
  from another local process), after removing every copy of those headers the client
  sent itself (otherwise anybody could claim to be RINIS);
* request and response bodies streamed through unchanged and without buffering, so
  uploads of hundreds of megabytes behave as they do behind nginx.

It is deliberately small: one request per client connection, one upstream connection per
request (``Connection: close`` both ways), so there is no response framing to get wrong.
Only the standard library is used (``asyncio`` + ``ssl``).

With more than one upstream it balances like an nginx ``upstream`` block with default
settings: round-robin per request, and an upstream that refuses the connection (or does not
accept it within ``connect_timeout``) is skipped for the next one (``proxy_next_upstream
error timeout``); only when none accepts is the answer a 502. A request whose head was sent
is never retried elsewhere. The cluster test puts it in front of two web nodes.

Known differences from nginx: a client certificate that does not verify against the CA
fails the TLS handshake (nginx in ``optional`` mode completes it and answers 400), and
without a certificate ``X-SSL-Client-Cert`` is sent empty where nginx omits the header;
the application treats an absent and an empty header alike.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import signal
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

logger = logging.getLogger("tls_front")

VerifyClient = Literal["optional", "required"]

#: Largest request or response head accepted (nginx answers 431/400 beyond its buffers).
MAX_HEAD_BYTES = 64 * 1024
#: Size of the blocks bodies are copied in; together with the stream limits this bounds
#: the memory one connection can use, whatever the body size.
BLOCK_SIZE = 64 * 1024
#: How long (at most / per silence) the proxy keeps reading an unfinished request before
#: closing; see :meth:`TLSFrontProxy._linger`.
LINGER_TIME = 5.0
LINGER_IDLE_TIMEOUT = 1.0
#: Maximum length of a chunk-size line or a trailer section in a chunked request body.
MAX_CHUNK_LINE = 4096

#: Headers the proxy sets itself; any incoming copy is a spoofing attempt and is dropped.
CERT_HEADER = "X-SSL-Client-Cert"
VERIFY_HEADER = "X-SSL-Client-Verify"
PROTO_HEADER = "X-Forwarded-Proto"
FOR_HEADER = "X-Forwarded-For"
SECRET_HEADER = "X-MSD-Proxy-Secret"  # noqa: S105 - a header name
_SPOOFABLE = frozenset(
    h.lower() for h in (CERT_HEADER, VERIFY_HEADER, PROTO_HEADER, FOR_HEADER, SECRET_HEADER)
)
#: The path of a Grote Berichten download carries its capability token: logged as "…".
_GB_TOKEN = re.compile(r"(/rinis/gb/)[^/?#]+")
#: Hop-by-hop headers that describe the client connection, not the request; the proxy
#: replaces them with ``Connection: close`` towards the upstream and towards the client.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "upgrade"})

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_SECRET = re.compile(r"^[!-~]{1,1024}$")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ProxyConfig:
    """Everything the proxy needs; the CLI and :func:`start_in_thread` both build one."""

    listen_host: str
    listen_port: int
    upstream_host: str
    upstream_port: int
    cert: Path
    key: Path
    ca: Path
    verify_client: VerifyClient = "optional"
    #: Seconds a TLS handshake may take before the connection is dropped.
    handshake_timeout: float = 10.0
    #: Seconds to wait for the upstream to accept a TCP connection (then 502).
    connect_timeout: float = 5.0
    #: Seconds either side may stay silent while a request is in progress (nginx's
    #: client_header/body and proxy_read timeouts in one), so stuck peers cannot pin
    #: connections forever. Generous, because the upstream may process a large upload.
    idle_timeout: float = 300.0
    #: Sent upstream in ``X-MSD-Proxy-Secret`` (the portal's ``MSD_PROXY_SECRET``); empty
    #: sends nothing, and the portal then ignores the certificate headers.
    proxy_secret: str = field(default="", repr=False)
    #: More upstreams after the first (``upstream_host``/``upstream_port``), balanced
    #: round-robin with fail-over on connection errors.
    more_upstreams: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.proxy_secret and not _SECRET.match(self.proxy_secret):
            raise ValueError("proxy_secret must be printable ASCII without spaces")

    @property
    def upstreams(self) -> tuple[tuple[str, int], ...]:
        """Every upstream, in round-robin order."""
        return ((self.upstream_host, self.upstream_port), *self.more_upstreams)


class HttpError(Exception):
    """A request the proxy refuses itself; *status* and *reason* go to the client."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class UpstreamError(Exception):
    """The upstream could not be reached or sent no valid response head (-> 502)."""


class ClientGone(Exception):
    """The client closed the connection mid-request; nothing more to send it."""


class _UpstreamStopped(Exception):
    """Writing to the upstream failed: it closed its side (its response may follow)."""


@dataclass(frozen=True)
class ClientIdentity:
    """What the TLS handshake established about the client certificate."""

    verify: str  # "SUCCESS" or "NONE", the value of X-SSL-Client-Verify
    pem: str  # the verified certificate as PEM, or "" without one
    common_name: str  # subject CN, for the log line only

    @property
    def escaped_cert(self) -> str:
        """The PEM URL-encoded as nginx's ``$ssl_client_escaped_cert`` does."""
        return quote(self.pem, safe="")


@dataclass
class RequestHead:
    """A parsed request head; *lines* are the original header lines, kept byte-exact."""

    method: str
    target: str
    version: str
    request_line: bytes
    lines: list[tuple[str, bytes]]  # (lower-case name, original line)

    def values(self, name: str) -> list[str]:
        """All values of header *name* (lower-case), stripped, in order."""
        result = []
        for lower, line in self.lines:
            if lower == name:
                result.append(line.split(b":", 1)[1].strip(b" \t").decode("latin-1"))
        return result


@dataclass
class _Exchange:
    """Book-keeping for the one log line of a request."""

    client_ip: str
    identity: ClientIdentity | None = None
    method: str = "-"
    target: str = "-"
    version: str = "-"
    status: int | None = None
    response_started: bool = False
    #: Whether the whole request (head and body) has been read from the client; if not,
    #: the client may still be sending and the proxy lingers before closing.
    request_complete: bool = False
    bytes_out: int = 0
    note: str = ""
    #: Which upstream served it (logged when there is more than one to choose from).
    upstream: str = ""
    started: float = field(default_factory=time.monotonic)


# --------------------------------------------------------------------------- TLS


def build_server_context(
    cert: Path | str, key: Path | str, ca: Path | str, verify_client: VerifyClient
) -> ssl.SSLContext:
    """The server-side TLS context: TLS >= 1.2, client certificates checked against *ca*.

    ``optional`` asks every client for a certificate but lets it proceed without one, so
    a browser still reaches the portal and the application decides per URL whether a
    certificate is needed; ``required`` refuses certificate-less clients in the handshake.
    """
    if verify_client not in ("optional", "required"):
        raise ValueError(f"verify_client must be 'optional' or 'required', not {verify_client!r}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cafile=str(ca))
    context.verify_mode = ssl.CERT_REQUIRED if verify_client == "required" else ssl.CERT_OPTIONAL
    # Only HTTP/1.1 is spoken; saying so keeps clients from attempting h2.
    context.set_alpn_protocols(["http/1.1"])
    return context


def client_identity(ssl_object: ssl.SSLObject | None) -> ClientIdentity:
    """Derive the certificate headers from a finished handshake.

    With ``CERT_OPTIONAL``/``CERT_REQUIRED`` OpenSSL aborts the handshake for a
    certificate that does not verify, so a certificate that is present here is verified;
    the check on the parsed form (empty when unverified) is a belt-and-braces guard so an
    unverified certificate can never be forwarded as ``SUCCESS``.
    """
    if ssl_object is None:
        return ClientIdentity("NONE", "", "")
    der = ssl_object.getpeercert(binary_form=True)
    info = ssl_object.getpeercert()
    if not der or not info:
        return ClientIdentity("NONE", "", "")
    common_name = ""
    for rdn in info.get("subject", ()):
        for attribute, value in rdn:
            if attribute == "commonName":
                common_name = str(value)
    return ClientIdentity("SUCCESS", ssl.DER_cert_to_PEM_cert(der), common_name)


# --------------------------------------------------------------------------- HTTP parsing


def parse_request_head(head: bytes) -> RequestHead:
    """Parse and validate a request head (without the final blank line).

    Strict on purpose: the proxy's anti-spoofing is only as good as its agreement with
    the upstream about where headers start and end, so anything ambiguous (bare CR/LF
    inside a line, obsolete line folding, whitespace before the colon) is refused with
    400 instead of being passed on for the upstream to interpret differently.
    """
    # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request.
    head = head.lstrip(b"\r\n")
    request_line, *header_lines = head.split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]):
        raise HttpError(400, "Bad Request", "malformed request line")
    method, target, version = parts
    if not target or any(b <= 0x20 or b == 0x7F for b in target):
        raise HttpError(400, "Bad Request", "malformed request target")
    match = _VERSION.match(version)
    if not match:
        raise HttpError(400, "Bad Request", "malformed HTTP version")
    if match.group(1) != b"1":
        raise HttpError(505, "HTTP Version Not Supported", "only HTTP/1.x is supported")
    lines: list[tuple[str, bytes]] = []
    for line in header_lines:
        if line[:1] in (b" ", b"\t"):
            raise HttpError(400, "Bad Request", "obsolete header line folding")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise HttpError(400, "Bad Request", "malformed header line")
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise HttpError(400, "Bad Request", "control character in header value")
        lines.append((name.decode("ascii").lower(), line))
    request = RequestHead(
        method=method.decode("ascii"),
        target=target.decode("latin-1"),
        version=version.decode("ascii"),
        request_line=request_line,
        lines=lines,
    )
    # As nginx: two Host headers could let the host check and the URL builder disagree.
    hosts = request.values("host")
    if len(hosts) > 1:
        raise HttpError(400, "Bad Request", "duplicate Host header")
    if not hosts and request.version == "HTTP/1.1":
        raise HttpError(400, "Bad Request", "HTTP/1.1 request without Host header")
    return request


def request_body_framing(request: RequestHead) -> int | None:
    """How the request body is delimited: its length, or ``None`` for chunked.

    Mirrors nginx: ``Transfer-Encoding`` other than exactly ``chunked`` is 501, both
    ``Transfer-Encoding`` and ``Content-Length`` (the classic smuggling combination) or
    conflicting lengths are 400. Knowing the framing lets the proxy forward exactly one
    body and nothing after it, so a second, pipelined request can never reach the
    upstream without passing the header filter.
    """
    transfer_encodings = request.values("transfer-encoding")
    lengths = request.values("content-length")
    if transfer_encodings:
        if lengths:
            raise HttpError(400, "Bad Request", "both Transfer-Encoding and Content-Length")
        if ",".join(transfer_encodings).strip().lower() != "chunked":
            raise HttpError(501, "Not Implemented", "unsupported Transfer-Encoding")
        return None
    if not lengths:
        return 0
    values = {part.strip() for value in lengths for part in value.split(",")}
    if len(values) != 1:
        raise HttpError(400, "Bad Request", "conflicting Content-Length")
    (value,) = values
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise HttpError(400, "Bad Request", "invalid Content-Length")
    return int(value)


def announces_body(request: RequestHead) -> bool:
    """Whether the client will send a body after the head (even if framed invalidly)."""
    if request.values("transfer-encoding"):
        return True
    return any(value.strip(" ,0") for value in request.values("content-length"))


def _harmless_trailer(line: bytes) -> bool:
    """Whether a chunked-body trailer field may pass (same rules as header fields)."""
    name, colon, _ = line.partition(b":")
    if not colon or not _TOKEN.match(name):
        return False
    lower = name.decode("ascii").lower()
    return "_" not in lower and lower not in _SPOOFABLE and lower not in _HOP_BY_HOP


def upstream_request_head(
    request: RequestHead, identity: ClientIdentity, client_ip: str, proxy_secret: str = ""
) -> bytes:
    """The head sent upstream: client headers minus spoofable and hop-by-hop ones, plus ours.

    Headers with an underscore are dropped, as nginx does by default
    (``underscores_in_headers off``): WSGI maps ``X_SSL_Client_Verify`` and
    ``X-SSL-Client-Verify`` to the same ``HTTP_X_SSL_CLIENT_VERIFY``, so letting them
    through would reopen the spoofing hole the filter closes.
    """
    kept = [
        line
        for lower, line in request.lines
        if "_" not in lower and lower not in _SPOOFABLE and lower not in _HOP_BY_HOP
    ]
    added = [
        f"{CERT_HEADER}: {identity.escaped_cert}".rstrip(" "),
        f"{VERIFY_HEADER}: {identity.verify}",
        f"{PROTO_HEADER}: https",
        f"{FOR_HEADER}: {client_ip}",
        *([f"{SECRET_HEADER}: {proxy_secret}"] if proxy_secret else []),
        "Connection: close",
    ]
    lines = [request.request_line, *kept, *(a.encode("latin-1") for a in added)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def rewrite_response_head(head: bytes) -> tuple[int, bytes]:
    """Parse the upstream's status and force ``Connection: close`` towards the client.

    The client must not reuse the connection: this proxy handles one request per
    connection and closes it after the response.
    """
    status_line, *lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not _VERSION.match(parts[0]) or not re.fullmatch(rb"\d{3}", parts[1]):
        raise UpstreamError("malformed status line from upstream")
    kept = [
        line
        for line in lines
        if line.split(b":", 1)[0].strip().lower().decode("latin-1") not in _HOP_BY_HOP
    ]
    return int(parts[1]), b"\r\n".join([status_line, *kept, b"Connection: close"]) + b"\r\n\r\n"


def error_response(status: int, reason: str, detail: str) -> bytes:
    """A short plain-text response for errors the proxy produces itself."""
    body = f"{status} {reason}: {detail}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


# --------------------------------------------------------------------------- the proxy


class TLSFrontProxy:
    """The asyncio server. Use :func:`serve` (CLI) or :func:`start_in_thread` (tests)."""

    def __init__(self, config: ProxyConfig, context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.context = context or build_server_context(
            config.cert, config.key, config.ca, config.verify_client
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False
        self._turn = 0  # round-robin position; the event loop is single-threaded

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``listen_port=0``)."""
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Bind the listening socket and start accepting connections."""
        # Plain TCP first, TLS per connection via start_tls(): a failed handshake then
        # surfaces in our handler, where it is logged in one line and forgotten.
        self._server = await asyncio.start_server(
            self._on_connection,
            self.config.listen_host,
            self.config.listen_port,
            limit=MAX_HEAD_BYTES,
        )

    async def close(self) -> None:
        """Stop accepting, abort connections in progress and wait until all are gone."""
        if self._server is None or self._closing:
            return
        self._closing = True
        # Stop accepting first and let accepts already under way attach to the server:
        # asyncio (3.12) asserts, and leaks the socket, when an accept completes after
        # Server.close(). A connection that starts from now on is aborted at once.
        loop = asyncio.get_running_loop()
        for sock in self._server.sockets:
            loop.remove_reader(sock.fileno())
        await asyncio.sleep(0)
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._closing:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            # Only close() cancels these tasks. Ending normally instead of re-raising
            # also avoids asyncio (3.12.1) logging the cancelled task as an error.
            writer.transport.abort()
        except Exception:  # a bug must cost one connection, never the proxy
            logger.exception("unexpected error handling a connection")
            writer.transport.abort()
        finally:
            self._connections.discard(task)

    async def _idle(self, awaitable: Awaitable[_T]) -> _T:
        """Await one read/write step, giving up after the configured idle timeout."""
        return await asyncio.wait_for(awaitable, self.config.idle_timeout)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        exchange = _Exchange(client_ip=str(peer[0]) if peer else "-")
        try:
            await writer.start_tls(
                self.context,
                ssl_handshake_timeout=self.config.handshake_timeout,
                ssl_shutdown_timeout=5,
            )
        except (OSError, TimeoutError, EOFError) as exc:
            logger.warning("%s TLS handshake failed: %s", exchange.client_ip, _describe(exc))
            writer.transport.abort()
            return
        exchange.identity = client_identity(writer.get_extra_info("ssl_object"))
        try:
            await self._exchange(reader, writer, exchange)
        except asyncio.CancelledError:
            # Shutting down: no graceful TLS close, that could take seconds per client.
            writer.transport.abort()
            exchange.note = "aborted: proxy stopping"
            self._log(exchange)
            raise
        if not exchange.request_complete:
            await self._linger(reader)
        await self._close_client(writer)
        if exchange.method != "-" or exchange.status is not None or exchange.note:
            self._log(exchange)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exchange: _Exchange
    ) -> None:
        """Handle the one request of this connection; errors end in a response or a close."""
        try:
            head = await self._idle(reader.readuntil(b"\r\n\r\n"))
        except asyncio.LimitOverrunError:
            await self._refuse(
                writer,
                exchange,
                HttpError(431, "Request Header Fields Too Large", "request head exceeds 64 KiB"),
            )
            return
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                exchange.note = "client closed before the request head was complete"
            return
        except TimeoutError:
            await self._refuse(
                writer, exchange, HttpError(408, "Request Timeout", "no request head")
            )
            return
        except OSError:
            return
        try:
            # Malformed heads are answered and closed at once; only a request that
            # announces a body may still have bytes in flight worth lingering for.
            exchange.request_complete = True
            request = parse_request_head(head[:-4])
            exchange.method, exchange.target, exchange.version = (
                request.method,
                request.target,
                request.version,
            )
            exchange.request_complete = not announces_body(request)
            body_length = request_body_framing(request)
        except HttpError as error:
            await self._refuse(writer, exchange, error)
            return
        assert exchange.identity is not None
        upstream_head = upstream_request_head(
            request, exchange.identity, exchange.client_ip, self.config.proxy_secret
        )
        try:
            up_reader, up_writer = await self._connect_upstream(exchange)
        except UpstreamError as exc:
            await self._refuse(writer, exchange, HttpError(502, "Bad Gateway", str(exc)))
            exchange.note = exchange.note or str(exc)
            return
        try:
            await self._proxy(
                reader, writer, up_reader, up_writer, upstream_head, body_length, exchange
            )
        finally:
            up_writer.transport.abort()

    async def _connect_upstream(
        self, exchange: _Exchange
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Round-robin over the upstreams; one that does not accept is skipped."""
        upstreams = self.config.upstreams
        first, self._turn = self._turn % len(upstreams), self._turn + 1
        failures: list[str] = []
        for offset in range(len(upstreams)):
            host, port = upstreams[(first + offset) % len(upstreams)]
            try:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES),
                    self.config.connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                failures.append(f"{host}:{port} {_describe(exc)}")
                continue
            if len(upstreams) > 1 or failures:
                exchange.upstream = f"{host}:{port}"
            if failures:
                exchange.note = "skipped " + ", ".join(failures)
            return connection
        exchange.note = "upstream: " + ", ".join(failures)
        if len(upstreams) == 1:
            raise UpstreamError(f"upstream {host}:{port} unreachable")
        raise UpstreamError(f"no upstream reachable ({len(upstreams)} tried)")

    async def _proxy(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        upstream_head: bytes,
        body_length: int | None,
        exchange: _Exchange,
    ) -> None:
        """Stream the request body up and the response down, concurrently.

        Concurrently, because the upstream may answer before reading the body (an early
        401 or 413) and because ``Expect: 100-continue`` clients wait for the upstream's
        interim response before sending the body.
        """
        up_writer.write(upstream_head)  # flushed by _send_body's first drain
        body = asyncio.create_task(self._send_body(reader, up_writer, body_length, exchange))
        response = asyncio.create_task(self._send_response(up_reader, writer, exchange))
        try:
            await asyncio.wait({body, response}, return_when=asyncio.FIRST_COMPLETED)
            if body.done() and body.exception() is not None:
                # The client's body failed: broken framing or the client went away.
                response.cancel()
                await asyncio.wait({response})
                error = body.exception()
                if isinstance(error, HttpError):
                    await self._refuse(writer, exchange, error)
                else:
                    exchange.note = f"request body: {_describe(error)}"
                return
            await asyncio.wait({response})
            if response.exception() is not None:
                error = response.exception()
                if (
                    isinstance(error, UpstreamError | OSError | EOFError)
                    and not exchange.response_started
                ):
                    await self._refuse(
                        writer,
                        exchange,
                        HttpError(502, "Bad Gateway", "no valid response from upstream"),
                    )
                exchange.note = (exchange.note + " " if exchange.note else "") + _describe(error)
        finally:
            for task in (body, response):
                task.cancel()
            await asyncio.wait({body, response})
            # Retrieve exceptions so asyncio does not log "never retrieved".
            for task in (body, response):
                if not task.cancelled():
                    task.exception()

    async def _send_body(
        self,
        reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        length: int | None,
        exchange: _Exchange,
    ) -> None:
        """Forward exactly one request body, byte-exact, in bounded blocks."""
        try:
            await self._to_upstream(up_writer, b"")
            if length is None:
                await self._copy_chunked(reader, up_writer)
            else:
                await self._copy_exact(reader, up_writer, length)
        except _UpstreamStopped:
            # The upstream closed its side early (typically after answering 413 or 401
            # without reading the body). Not an error: its response is still relayed.
            return
        exchange.request_complete = True

    async def _linger(self, reader: asyncio.StreamReader) -> None:
        """Read and discard what the client still sends, briefly, before closing.

        Closing a socket with unread input makes the kernel send a reset, which can
        destroy the response the client has not read yet (say a 413 or 502 answered
        while a large upload was still arriving). nginx's ``lingering_close`` solves this
        the same way: keep reading for a short while (5 s at most, 1 s of silence).
        """
        deadline = time.monotonic() + LINGER_TIME
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(
                    reader.read(BLOCK_SIZE), min(remaining, LINGER_IDLE_TIMEOUT)
                )
            except (OSError, asyncio.LimitOverrunError):
                return
            if not data:
                return

    async def _to_upstream(self, up_writer: asyncio.StreamWriter, data: bytes) -> None:
        try:
            up_writer.write(data)
            await self._idle(up_writer.drain())
        except (OSError, RuntimeError) as exc:
            raise _UpstreamStopped from exc

    async def _from_client(self, awaitable: Awaitable[_T]) -> _T:
        try:
            return await self._idle(awaitable)
        except asyncio.IncompleteReadError as exc:
            raise ClientGone("request body ended early") from exc
        except OSError as exc:
            raise ClientGone(_describe(exc)) from exc

    async def _copy_exact(
        self, reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, length: int
    ) -> None:
        remaining = length
        while remaining:
            data = await self._from_client(reader.read(min(BLOCK_SIZE, remaining)))
            if not data:
                raise ClientGone(f"request body ended {remaining} bytes early")
            await self._to_upstream(up_writer, data)
            remaining -= len(data)

    async def _read_line(self, reader: asyncio.StreamReader) -> bytes:
        try:
            line = await self._from_client(reader.readuntil(b"\r\n"))
        except asyncio.LimitOverrunError as exc:
            raise HttpError(400, "Bad Request", "chunked body line too long") from exc
        if len(line) > MAX_CHUNK_LINE:
            raise HttpError(400, "Bad Request", "chunked body line too long")
        return line

    async def _copy_chunked(
        self, reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
    ) -> None:
        """Forward a chunked body as received, checking the framing to find its end."""
        while True:
            line = await self._read_line(reader)
            size_field = line[:-2].split(b";", 1)[0].strip(b" \t")
            if not _HEX.match(size_field):
                raise HttpError(400, "Bad Request", "malformed chunk size")
            size = int(size_field, 16)
            await self._to_upstream(up_writer, line)
            if size == 0:
                break
            await self._copy_exact(reader, up_writer, size)
            crlf = await self._from_client(reader.readexactly(2))
            if crlf != b"\r\n":
                raise HttpError(400, "Bad Request", "chunk data not followed by CRLF")
            await self._to_upstream(up_writer, crlf)
        trailer_bytes = 0
        while True:  # optional trailer fields, then the empty line
            line = await self._read_line(reader)
            trailer_bytes += len(line)
            if trailer_bytes > MAX_HEAD_BYTES:
                raise HttpError(400, "Bad Request", "trailer section too large")
            if line != b"\r\n" and not _harmless_trailer(line):
                continue  # a trailer must not smuggle in what the header filter removed
            await self._to_upstream(up_writer, line)
            if line == b"\r\n":
                break

    async def _send_response(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exchange: _Exchange
    ) -> None:
        """Relay interim (1xx) responses, the final head and then everything until EOF."""
        while True:
            try:
                head = await self._idle(up_reader.readuntil(b"\r\n\r\n"))
            except asyncio.IncompleteReadError as exc:
                raise UpstreamError("upstream closed without a response") from exc
            except asyncio.LimitOverrunError as exc:
                raise UpstreamError("upstream response head too large") from exc
            status, rewritten = rewrite_response_head(head[:-4])
            if 100 <= status < 200 and status != 101:
                await self._to_client(writer, head, exchange)  # e.g. 100 Continue, verbatim
                continue
            exchange.status = status
            await self._to_client(writer, rewritten, exchange)
            break
        while data := await self._idle(up_reader.read(BLOCK_SIZE)):
            await self._to_client(writer, data, exchange)

    async def _to_client(
        self, writer: asyncio.StreamWriter, data: bytes, exchange: _Exchange
    ) -> None:
        exchange.response_started = True
        try:
            writer.write(data)
            await self._idle(writer.drain())
        except (OSError, RuntimeError) as exc:  # RuntimeError: transport already closed
            raise ClientGone(f"client went away: {_describe(exc)}") from exc
        exchange.bytes_out += len(data)

    async def _refuse(
        self, writer: asyncio.StreamWriter, exchange: _Exchange, error: HttpError
    ) -> None:
        """Answer with the proxy's own short error response, unless a response began."""
        if exchange.response_started:
            return
        exchange.status = error.status
        exchange.note = error.detail
        with contextlib.suppress(ClientGone, TimeoutError):
            await self._to_client(
                writer, error_response(error.status, error.reason, error.detail), exchange
            )

    async def _close_client(self, writer: asyncio.StreamWriter) -> None:
        """Close with a TLS close_notify, so the client sees a clean end of the response."""
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 10)
        writer.transport.abort()

    def _log(self, exchange: _Exchange) -> None:
        identity = exchange.identity
        cert = "NONE" if identity is None else identity.verify
        if identity is not None and identity.common_name:
            cert += f" cn={identity.common_name!r}"
        path = redact_path(exchange.target.split("?", 1)[0])[:200]
        status = exchange.status if exchange.status is not None else "-"
        elapsed = (time.monotonic() - exchange.started) * 1000
        logger.info(
            '%s "%s %s %s" %s %dB client-cert=%s %.0fms%s%s',
            exchange.client_ip,
            exchange.method,
            path,
            exchange.version,
            status,
            exchange.bytes_out,
            cert,
            elapsed,
            f" upstream={exchange.upstream}" if exchange.upstream else "",
            f" ({exchange.note})" if exchange.note else "",
        )


def redact_path(path: str) -> str:
    """*path* with a Grote Berichten token replaced, so access logs never hold one."""
    return _GB_TOKEN.sub(r"\1…", path)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = str(exc) or ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- running


def parse_address(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> ``(host, port)``."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


async def serve(config: ProxyConfig, stop: asyncio.Event) -> None:
    """Run the proxy until *stop* is set (the CLI sets it on SIGINT/SIGTERM)."""
    proxy = TLSFrontProxy(config)
    await proxy.start()
    logger.info(
        "tls_front listening on https://%s:%d -> http://%s:%d (client certificates %s)",
        config.listen_host,
        proxy.port,
        config.upstream_host,
        config.upstream_port,
        config.verify_client,
    )
    try:
        await stop.wait()
    finally:
        await proxy.close()


class ProxyHandle:
    """A proxy running in a background thread; see :func:`start_in_thread`."""

    def __init__(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop,
        stop_event: asyncio.Event,
        thread: threading.Thread,
    ) -> None:
        self.host = host
        self.port = port
        self._loop = loop
        self._stop_event = stop_event
        self._thread = thread

    @property
    def url(self) -> str:
        """Base URL of the proxy, e.g. ``https://127.0.0.1:43817``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, abort open connections, and wait for the thread to end."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("tls_front thread did not stop in time")

    def __enter__(self) -> ProxyHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_in_thread(
    listen_host: str,
    listen_port: int,
    upstream: str | tuple[str, int] | list[str | tuple[str, int]],
    cert: Path | str,
    key: Path | str,
    ca: Path | str,
    verify_client: VerifyClient = "optional",
    proxy_secret: str = "",
) -> ProxyHandle:
    """Start a proxy on its own event loop in a daemon thread (for pytest fixtures).

    Returns once the socket listens, so callers can connect immediately; bad certificate
    files or an occupied port raise here rather than in the thread. ``listen_port=0``
    picks a free port: read it from ``handle.port``. Call ``handle.stop()`` (or use the
    handle as a context manager) to shut down.
    """
    listed = upstream if isinstance(upstream, list) else [upstream]
    upstreams = [parse_address(u) if isinstance(u, str) else u for u in listed]
    if not upstreams:
        raise ValueError("at least one upstream")
    (upstream_host, upstream_port), *more = upstreams
    config = ProxyConfig(
        listen_host=listen_host,
        listen_port=listen_port,
        upstream_host=upstream_host,
        upstream_port=upstream_port,
        cert=Path(cert),
        key=Path(key),
        ca=Path(ca),
        verify_client=verify_client,
        proxy_secret=proxy_secret,
        more_upstreams=tuple(more),
    )
    context = build_server_context(config.cert, config.key, config.ca, config.verify_client)
    started: concurrent.futures.Future[tuple[int, asyncio.AbstractEventLoop, asyncio.Event]] = (
        concurrent.futures.Future()
    )

    async def main() -> None:
        proxy = TLSFrontProxy(config, context)
        try:
            await proxy.start()
        except BaseException as exc:
            started.set_exception(exc)
            return
        stop_event = asyncio.Event()
        started.set_result((proxy.port, asyncio.get_running_loop(), stop_event))
        try:
            await stop_event.wait()
        finally:
            await proxy.close()

    def run() -> None:
        asyncio.run(main())

    thread = threading.Thread(target=run, name=f"tls_front:{listen_port}", daemon=True)
    thread.start()
    port, loop, stop_event = started.result(timeout=30)
    return ProxyHandle(listen_host, port, loop, stop_event, thread)


def install_signal_stop(stop: asyncio.Event) -> Callable[[], None]:
    """Set *stop* on SIGINT/SIGTERM (honcho stops processes with SIGTERM)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)

    def remove() -> None:
        for signum in signals:
            loop.remove_signal_handler(signum)

    return remove
