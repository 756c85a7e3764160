"""The two listeners: SOAP over mutual TLS, and the JSON control interface.

``Simulator`` ties everything together and is what both the CLI and the tests use::

    with Simulator(SimulatorConfig(port=0, control_port=0, ...)) as sim:
        requests.post(sim.soap_url, ..., cert=..., verify=...)
        requests.get(sim.control_url + "/status")

The SOAP listener is the stdlib ``ThreadingHTTPServer``; the TLS handshake happens in
the per-connection thread (not in the accept loop), so one slow or hostile client can
not stall the others. TLS ≥ 1.2 and a client certificate signed by the configured CA
are required: a client without one never gets to send a byte of HTTP.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from .config import SimulatorConfig
from .devcerts import RINIS_OIN, ensure_dev_certs
from .gb import GbDownloader
from .processor import Di01Processor, Outcome
from .reports import (
    REPORTS_DIR_NAME,
    AutoReporter,
    ReportError,
    ReportLog,
    ReportSender,
    UnknownMessage,
)
from .state import FAIL_MODES, ControlState, Failure
from .storage import MessageStore
from .stuf import SchemaValidator

log = logging.getLogger("rinis_simulator")

_CHUNK_SIZE_RE = re.compile(rb"^([0-9A-Fa-f]+)(;.*)?$")


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit."""


class BadRequest(Exception):
    """The HTTP framing of the request is broken."""


# ============================================================================ SOAP side


class TlsHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        simulator: Simulator,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ssl_context = context
        self.simulator = simulator
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake, then hand the TLS socket to the handler; refusals are logged."""
        sock = cast(socket.socket, request)
        sock.settimeout(self.simulator.config.handshake_timeout_seconds)
        try:
            tls = self.ssl_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.simulator.state.count("tls_refused")
            log.warning("TLS-verbinding van %s geweigerd: %s", client_address[0], exc)
            return
        try:
            tls.settimeout(self.simulator.config.request_timeout_seconds)
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log unexpected handler errors on one line instead of a stderr dump."""
        log.exception("Fout bij verwerken verzoek van %s", client_address[0])


class SoapHandler(BaseHTTPRequestHandler):
    """``POST <soap_path>``: the RINIS ``OntvangAsynchroon`` port for ``ggk_Di01``."""

    protocol_version = "HTTP/1.1"
    server_version = "RINIS-simulator"
    sys_version = ""
    server: TlsHTTPServer

    @property
    def sim(self) -> Simulator:
        """The simulator this request belongs to."""
        return self.server.simulator

    def log_message(self, format: str, *args: Any) -> None:
        """Access log at debug level; the one-line message log is written separately."""
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        """Receive a Di01 and answer Bv03/Fo03 (or misbehave on request)."""
        if urlsplit(self.path).path != self.sim.config.soap_path:
            self._plain(HTTPStatus.NOT_FOUND, "Onbekend pad\n")
            return
        try:
            body = self._read_body()
        except BodyTooLarge:
            self._drain()
            self.sim.state.count("too_large")
            log.info("Di01 geweigerd: groter dan %d bytes", self.sim.config.max_body_bytes)
            self.close_connection = True
            self._plain(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"Bericht groter dan {self.sim.config.max_body_bytes} bytes\n",
            )
            return
        except BadRequest as exc:
            self.close_connection = True
            self._plain(HTTPStatus.BAD_REQUEST, f"{exc}\n")
            return
        self.sim.state.count("received")
        failure = self.sim.state.take_failure()
        outcome = self._misbehave(failure, body) if failure else None
        if failure and outcome is None and failure.mode != "slow":
            return  # "down": the connection is closed without an answer
        if outcome is None:
            outcome = self.sim.processor.handle(
                body,
                self.headers.get("SOAPAction"),
                self.headers.get("Content-Type"),
                self._peer(),
            )
        if failure and failure.mode == "slow":
            outcome.note = (
                f"{outcome.note + '; ' if outcome.note else ''}gesimuleerd traag: "
                f"{failure.delay_seconds}s"
            )
            self.sim.stop_event.wait(failure.delay_seconds)
        log.info("%s", outcome.log_line())
        self.sim.state.count("answered_" + outcome.verdict.split()[0].lower())
        try:
            self._send(outcome.status, outcome.content_type, outcome.body)
        except OSError as exc:  # the client gave up (e.g. after "slow")
            log.info("Antwoord op %s niet afgeleverd: %s", outcome.fields.referentienummer, exc)
            self.close_connection = True

    def _misbehave(self, failure: Failure, body: bytes) -> Outcome | None:
        """Apply an injected failure; ``None`` means: no answer of our own (yet)."""
        if failure.mode == "down":
            log.info("Di01 -> verbinding verbroken zonder antwoord (gesimuleerd: down)")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if failure.mode == "http500":
            log.info("Di01 -> HTTP 500 (gesimuleerd)")
            return Outcome(
                500,
                b"Internal Server Error (gesimuleerd)\n",
                "HTTP500 gesimuleerd",
                content_type="text/plain; charset=utf-8",
            )
        if failure.mode in ("fo03-server", "fo03-client"):
            return self.sim.processor.forced_fault(body, failure)
        return None  # slow: handled by the caller after normal processing

    def _peer(self) -> dict[str, Any]:
        """Subject of the client certificate, recorded with the message."""
        cert = cast(ssl.SSLSocket, self.connection).getpeercert() or {}
        subject = {k: v for rdn in cert.get("subject", ()) for k, v in rdn}
        return {"subject": subject, "certificate_serial": cert.get("serialNumber")}

    def _read_body(self) -> bytes:
        limit = self.sim.config.max_body_bytes
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if encoding and encoding != "identity":
            if encoding != "chunked":
                raise BadRequest(f"Transfer-Encoding {encoding} wordt niet ondersteund")
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            raise BadRequest("Content-Length ontbreekt of is ongeldig")
        length = int(length_header)
        if length > limit:
            raise BodyTooLarge
        return self._read_exactly(length)

    def _drain(self) -> None:
        """Read and drop an oversized body we know the length of, so the client gets to
        read our 413 instead of a connection reset mid-upload. Bounded, then give up."""
        length_header = self.headers.get("Content-Length") or ""
        if not length_header.isdigit() or int(length_header) > 4 * self.sim.config.max_body_bytes:
            return
        remaining = int(length_header)
        with contextlib.suppress(OSError):
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)

    def _read_exactly(self, length: int) -> bytes:
        data = self.rfile.read(length)
        if len(data) != length:
            raise BadRequest("Verbinding gesloten voordat het bericht binnen was")
        return data

    def _read_chunked(self, limit: int) -> bytes:
        """Minimal HTTP/1.1 chunked decoding: the portal may stream its envelope."""
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).strip()
            match = _CHUNK_SIZE_RE.match(line)
            if not match:
                raise BadRequest("Ongeldige chunk-grootte")
            size = int(match.group(1), 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise BodyTooLarge
            parts.append(self._read_exactly(size))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest("Chunk niet afgesloten met CRLF")
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _plain(self, status: HTTPStatus, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode())

    def _method_not_allowed(self) -> None:
        if urlsplit(self.path).path == self.sim.config.soap_path:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "POST")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._plain(HTTPStatus.NOT_FOUND, "Onbekend pad\n")

    do_GET = do_PUT = do_DELETE = do_PATCH = _method_not_allowed


# ========================================================================= control side


class ControlHTTPServer(ThreadingHTTPServer):
    """Plain-HTTP JSON control interface; loopback only."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.simulator = simulator
        super().__init__(address, ControlHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Belt and braces next to the loopback bind: refuse non-local peers."""
        try:
            return ipaddress.ip_address(client_address[0]).is_loopback
        except ValueError:
            return False


class ControlHandler(BaseHTTPRequestHandler):
    """``/control/...``: status, failure injection, reset, stored messages, GB break,
    reports to the portal."""

    protocol_version = "HTTP/1.1"
    server_version = "RINIS-simulator-control"
    sys_version = ""
    server: ControlHTTPServer

    @property
    def sim(self) -> Simulator:
        """The simulator being controlled."""
        return self.server.simulator

    def log_message(self, format: str, *args: Any) -> None:
        """Control calls are chatty in tests: debug level only."""
        log.debug("control %s", format % args)

    def do_GET(self) -> None:
        """``/control/status``, ``/control/messages[/<ref>]``, ``/control/reports``."""
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/control/status":
            self._json(HTTPStatus.OK, self.sim.status())
        elif path == "/control/reports":
            self._json(
                HTTPStatus.OK,
                {
                    "portal_url": self.sim.config.portal_url,
                    "auto_report": self.sim.auto_reporter.snapshot(),
                    "reports": self.sim.report_log.all(),
                },
            )
        elif path == "/control/messages":
            self._json(HTTPStatus.OK, {"messages": self.sim.store.all_meta()})
        elif path.startswith("/control/messages/"):
            ref = path.removeprefix("/control/messages/")
            meta = self.sim.store.load_meta(ref) if _safe_ref(ref) else None
            if meta is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"geen bericht {ref}"})
            else:
                self._json(HTTPStatus.OK, meta)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "onbekend pad"})

    def do_POST(self) -> None:
        """``/control/fail``, ``/control/reset``, ``/control/gb-break``, ``/control/report``,
        ``/control/unsolicited``, ``/control/auto-report``."""
        path = urlsplit(self.path).path.rstrip("/")
        try:
            data = self._body()
            if path in ("/control/report", "/control/unsolicited", "/control/auto-report"):
                self._reports(path, data)
                return
            if path == "/control/fail":
                self._json(HTTPStatus.OK, self._fail(data))
            elif path == "/control/reset":
                cleared = self.sim.reset(clear_messages=bool(data.get("clear_messages")))
                self._json(
                    HTTPStatus.OK, {"reset": True, "messages_deleted": cleared, **self.sim.status()}
                )
            elif path == "/control/gb-break":
                after = data.get("after_bytes")
                if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
                    raise ValueError("after_bytes moet een geheel getal of null zijn")
                self.sim.state.set_gb_break(after)
                self._json(HTTPStatus.OK, {"gb_break_after_bytes": after})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "onbekend pad"})
        except ValueError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def _reports(self, path: str, data: dict[str, Any]) -> None:
        """Send a report now (synchronously: the answer carries the outcome) or change
        the auto-report settings. A report the portal never answered is a 502, so
        ``curl -f`` in a script notices; Bv03 and Fo03 are both answers (200)."""
        try:
            if path == "/control/auto-report":
                delay = data.get("delay_seconds")
                if delay is not None and (
                    not isinstance(delay, int | float) or isinstance(delay, bool)
                ):
                    raise ReportError("delay_seconds moet een getal zijn")
                self.sim.auto_reporter.configure(
                    mode=data.get("mode"),
                    delay_seconds=float(delay) if delay is not None else None,
                )
                self._json(HTTPStatus.OK, self.sim.auto_reporter.snapshot())
                return
            if path == "/control/report":
                ref = data.get("referentienummer")
                if not isinstance(ref, str) or not ref:
                    raise ReportError("referentienummer (van de ontvangen Di01) ontbreekt")
                record = self.sim.reports.answer(ref, data.get("kind", "op_orde"))
            else:
                gemeente = data.get("gemeente")
                if not isinstance(gemeente, str):
                    raise ReportError('gemeente (CBS-gemeentecode, bv. "0363") ontbreekt')
                record = self.sim.reports.unsolicited(gemeente, data.get("kind", "foutrapport"))
        except UnknownMessage as exc:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
            return
        except RuntimeError as exc:  # our own message failed the XSD: a simulator bug
            log.exception("Rapport niet verstuurd")
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})
            return
        status = HTTPStatus.BAD_GATEWAY if record["status"] == "failed" else HTTPStatus.OK
        self._json(status, record)

    def _fail(self, data: dict[str, Any]) -> dict[str, Any]:
        mode = data.get("mode")
        if mode not in FAIL_MODES:
            raise ValueError(f"mode moet een van {', '.join(FAIL_MODES)} zijn")
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count moet een geheel getal ≥ 1 zijn")
        delay = data.get("delay_seconds", 5.0 if mode == "slow" else 0.0)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise ValueError("delay_seconds moet een getal ≥ 0 zijn")
        code = data.get("code")
        if code is not None and (not isinstance(code, str) or not 1 <= len(code) <= 7):
            raise ValueError("code moet een StUF-foutcode zijn (hoogstens 7 tekens)")
        details = data.get("details")
        if details is not None and not isinstance(details, str):
            raise ValueError("details moet tekst zijn")
        self.sim.state.push_failure(
            Failure(mode=mode, delay_seconds=float(delay), code=code, details=details), count
        )
        return self.sim.status()

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise ValueError("verzoek te groot")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"geen geldige JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("verwacht een JSON-object")
        return data

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload, indent=2, ensure_ascii=False).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _safe_ref(ref: str) -> bool:
    return bool(ref) and "/" not in ref and not ref.startswith(".")


# ============================================================================ simulator


def server_ssl_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """TLS ≥ 1.2, our certificate, and a client certificate from *client_ca* required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    context.load_verify_locations(cafile=str(client_ca))
    return context


class Simulator:
    """One running simulator: SOAP listener, control listener, GB downloads."""

    def __init__(self, config: SimulatorConfig) -> None:
        config.check()
        self.config = config
        self.state = ControlState()
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._soap: TlsHTTPServer | None = None
        self._control: ControlHTTPServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        """Bind both listeners and start serving; returns at once (threads serve)."""
        config = self.config
        if config.needs_generated_certs:
            ensure_dev_certs(config.certs_dir)
        for label, path in (("StUF-GGk", config.xsd), ("Grote Berichten", config.gb_xsd)):
            if not path.is_file():
                raise FileNotFoundError(f"{label}-schema niet gevonden: {path}")
        stuf_schema = SchemaValidator(config.xsd)
        gb_schema = SchemaValidator(config.gb_xsd)
        self.store = MessageStore(config.storage)
        self.report_log = ReportLog(config.storage / REPORTS_DIR_NAME)
        self.reports = ReportSender(
            config, self.store, stuf_schema, self.state, self.stop_event, self.report_log
        )
        self.auto_reporter = AutoReporter(config, self.store, self.reports, self.stop_event)
        self.downloader = GbDownloader(
            config,
            self.store,
            self.state,
            self.stop_event,
            on_complete=self.auto_reporter.download_complete,
        )
        self.processor = Di01Processor(
            config,
            self.store,
            stuf_schema,
            gb_schema,
            self.downloader,
            self.state,
            on_accepted=self.auto_reporter.message_accepted,
        )
        context = server_ssl_context(config.server_cert, config.server_key, config.client_ca)
        self._soap = TlsHTTPServer((config.host, config.port), SoapHandler, context, self)
        try:
            self._control = ControlHTTPServer((config.control_host, config.control_port), self)
        except OSError:
            self._soap.server_close()
            raise
        for name, server in (("soap", self._soap), ("control", self._control)):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"rinis-sim-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        # Digikoppeling puts the sender's OIN in wsa:From; our address is known only now.
        self.reports.from_address = f"{self.soap_url}?OIN={RINIS_OIN}"
        self.auto_reporter.start()
        resumed = self.downloader.resume_pending()
        if resumed:
            log.info("Grote Berichten hervat: %s", ", ".join(resumed))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort waits (slow mode, GB back-off) and wait for threads."""
        self.stop_event.set()
        for server in (self._soap, self._control):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout)
        if hasattr(self, "downloader"):
            self.downloader.join(timeout)
        if hasattr(self, "auto_reporter"):
            self.auto_reporter.stop(timeout)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ info

    @property
    def port(self) -> int:
        """The SOAP port actually bound (useful with port 0)."""
        assert self._soap is not None
        return int(self._soap.server_address[1])

    @property
    def control_port(self) -> int:
        """The control port actually bound."""
        assert self._control is not None
        return int(self._control.server_address[1])

    @property
    def soap_url(self) -> str:
        """Endpoint URL for the portal's RINIS client."""
        return f"https://{_url_host(self.config.host)}:{self.port}{self.config.soap_path}"

    @property
    def control_url(self) -> str:
        """Base URL of the control interface (``…/control``)."""
        return f"http://{_url_host(self.config.control_host)}:{self.control_port}/control"

    def status(self) -> dict[str, Any]:
        """Body of ``GET /control/status``."""
        metas = self.store.all_meta()
        snapshot = self.state.snapshot()
        return {
            "soap_url": self.soap_url,
            "messages": {
                "stored": len(metas),
                "complete": sum(1 for m in metas if m.get("complete")),
                "gb_pending": sum(
                    1
                    for m in metas
                    if (m.get("gb") or {}).get("status") in ("pending", "downloading")
                ),
                "gb_failed": sum(1 for m in metas if (m.get("gb") or {}).get("status") == "failed"),
            },
            "functies": list(self.config.functies),
            "portal_url": self.config.portal_url,
            "reports": self.report_log.counts(),
            "auto_report": self.auto_reporter.snapshot(),
            **snapshot,
        }

    def reset(self, *, clear_messages: bool = False) -> int:
        """Forget injected failures and counters and restart the alternation;
        optionally delete stored messages and the report log."""
        self.state.reset()
        self.auto_reporter.reset()
        if not clear_messages:
            return 0
        self.report_log.clear()
        return self.store.clear()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
