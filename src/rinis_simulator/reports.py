"""CBS's reports back to the portal: a Du01 answering a delivery, or an unsolicited Di01.

In production CBS checks every delivery and answers through RINIS with a PDF: a
technical error report (``MSDFOUTRAPPORT``), a content report saying the delivery is in
order (``MSDOPORDE``) or another report (``MSDRAPPORT``). RINIS delivers it to the
portal's inbound ``OntvangAsynchroon`` endpoint over mutual TLS. The simulator plays
that side so the portal's inbound path, report inbox and delivery linking can be
exercised end to end in development and tests.

Why the simulator builds these messages itself (lxml + :mod:`.stuf`) and validates them
against ``ggk0310_msg.xsd`` before sending: it is the portal's counterpart, so reusing
the portal's writer would let a shared mistake pass unnoticed, and an invalid message
from *our* side must fail here, loudly, rather than look like a portal refusal.

Delivery semantics mirror what the portal does towards RINIS: connection errors and
HTTP 5xx *without* a Fo03 are retried with exponential back-off, resending the very
same bytes (same referentienummer, so the portal sees a harmless duplicate if an
earlier attempt did arrive); a Fo03 is a final answer and is never retried.

Everything sent is recorded: the list in ``<storage>/.reports/reports-sent.json`` (with
the exact request body and PDF next to it) for ``GET /control/reports``, and a short
summary under ``reports`` in the answered message's ``meta.json``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import heapq
import itertools
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .config import AUTO_REPORT_MODES, SimulatorConfig
from .devcerts import RINIS_OIN
from .pdf import ReportText, build_report_pdf
from .state import ControlState
from .storage import MessageStore
from .stuf import (
    UUID4_RE,
    ReportMessage,
    SchemaValidator,
    Systeem,
    TijdstipClock,
    read_portal_answer,
    report_element,
    report_request,
)

log = logging.getLogger("rinis_simulator.reports")

#: Report kind (control API / CLI word) → stuurgegevens.functie the portal routes on.
REPORT_KINDS: dict[str, str] = {
    "op_orde": "MSDOPORDE",
    "foutrapport": "MSDFOUTRAPPORT",
    "overig": "MSDRAPPORT",
}
#: Only deliveries are reported on automatically; a consent message gets no report.
AUTO_REPORT_FUNCTIES = frozenset({"MSDAANLEVERING"})

REPORTS_DIR_NAME = ".reports"
LOG_NAME = "reports-sent.json"
#: The log is for inspection, not an archive: keep it from growing without bound.
MAX_LOGGED_REPORTS = 1000
#: The portal's applicatie when the Di01 does not give a usable one (StUF: 3–50 chars).
PORTAL_APPLICATIE = "MSDPortaal"

_UNSAFE_NAME_CHARS = re.compile(r"[^0-9A-Za-z._-]+")


class ReportError(ValueError):
    """The caller asked for something that cannot be sent (bad kind, gemeente, config)."""


class UnknownMessage(LookupError):
    """No stored Di01 with that referentienummer: nothing to answer."""


def check_kind(kind: object) -> str:
    """Return *kind* if it is a known report kind, else raise :class:`ReportError`."""
    if not isinstance(kind, str) or kind not in REPORT_KINDS:
        raise ReportError(f"kind moet een van {', '.join(REPORT_KINDS)} zijn, niet {kind!r}")
    return kind


def report_file_name(kind: str, gemeente: str, reference: str) -> str:
    """``CBS_<FUNCTIE>_<gemeente>_<reference>.pdf`` within StUF-GGk's file-name alphabet."""
    safe = _UNSAFE_NAME_CHARS.sub("_", reference).strip("._") or "rapport"
    return f"CBS_{REPORT_KINDS[kind]}_{gemeente}_{safe[:80]}.pdf"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


# =============================================================================== log


class ReportLog:
    """Every report sent (oldest first), persisted so it survives a restart.

    Callers only ever get copies; one lock guards the list and the file. The directory
    is created with the first report, so a simulator that never reports leaves no trace.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads((self.directory / LOG_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def _persist(self) -> None:
        """Rewrite the log atomically (called with the lock held)."""
        data = json.dumps(self._records, indent=2, ensure_ascii=False).encode() + b"\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".log.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.directory / LOG_NAME)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def save_file(self, name: str, data: bytes) -> Path:
        """Keep an artefact (request body, PDF) next to the log for inspection."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        path.write_bytes(data)
        return path

    def add(self, record: dict[str, Any]) -> None:
        """Append a new record."""
        with self._lock:
            self._records.append(copy.deepcopy(record))
            del self._records[:-MAX_LOGGED_REPORTS]
            self._persist()

    def update(self, referentienummer: str, changes: dict[str, Any]) -> bool:
        """Merge *changes* into the record of that report; ``False`` if it is gone (the
        log was cleared by a control reset while the report was on its way)."""
        with self._lock:
            for record in reversed(self._records):
                if record.get("referentienummer") == referentienummer:
                    record.update(copy.deepcopy(changes))
                    self._persist()
                    return True
        return False

    def all(self) -> list[dict[str, Any]]:
        """A copy of every record, oldest first."""
        with self._lock:
            return copy.deepcopy(self._records)

    def counts(self) -> dict[str, int]:
        """How many reports ended in each status (``sending``, ``bv03``, ``fo03``, …)."""
        with self._lock:
            counts: dict[str, int] = {"total": len(self._records)}
            for record in self._records:
                status = str(record.get("status"))
                counts[status] = counts.get(status, 0) + 1
            return counts

    def clear(self) -> int:
        """Forget every record and artefact (control reset with clear_messages)."""
        with self._lock:
            count = len(self._records)
            self._records = []
            if self.directory.is_dir():
                for path in self.directory.iterdir():
                    if path.is_file():
                        path.unlink(missing_ok=True)
            return count


# ============================================================================ sender


class ReportSender:
    """Builds, validates, sends and records one report at a time (thread-safe)."""

    def __init__(
        self,
        config: SimulatorConfig,
        store: MessageStore,
        schema: SchemaValidator,
        state: ControlState,
        stop_event: threading.Event,
        report_log: ReportLog,
    ) -> None:
        self.config = config
        self.store = store
        self.schema = schema
        self.state = state
        self.stop_event = stop_event
        self.log = report_log
        self.clock = TijdstipClock()
        #: wsa:From/Address; the simulator replaces it with its own URL once bound.
        self.from_address = f"urn:oin:{RINIS_OIN}"

    @property
    def us(self) -> Systeem:
        """CBS as the sender: who the Di01s are addressed to (``CBS``/``GGk``)."""
        return Systeem(
            organisatie=self.config.ontvanger_organisatie,
            applicatie=self.config.ontvanger_applicatie,
        )

    # ------------------------------------------------------------------ entry points

    def answer(
        self, referentienummer: str, kind: str, *, trigger: str = "control"
    ) -> dict[str, Any]:
        """Send a Du01 report answering the stored Di01 *referentienummer*.

        crossRefnummer = that Di01's referentienummer, crossRefnummerBericht = its
        referentienummerBericht (the portal's delivery reference), ontvanger = its
        zender (the gemeente). Returns the report record with the outcome.
        """
        kind = check_kind(kind)
        meta = (
            self.store.load_meta(referentienummer)
            if isinstance(referentienummer, str) and UUID4_RE.match(referentienummer)
            else None
        )
        if meta is None:
            raise UnknownMessage(f"geen ontvangen bericht {referentienummer!r}")
        zender = meta.get("zender") or {}
        gemeente = str(zender.get("organisatie") or "")
        applicatie = zender.get("applicatie")
        if not isinstance(applicatie, str) or not 3 <= len(applicatie) <= 50:
            applicatie = PORTAL_APPLICATIE
        delivery_ref = meta.get("referentienummerBericht")
        message = ReportMessage(
            zender=self.us,
            ontvanger=Systeem(organisatie=gemeente, applicatie=applicatie),
            referentienummer=str(uuid.uuid4()),
            tijdstip_bericht=self.clock.next(),
            functie=REPORT_KINDS[kind],
            referentienummer_bericht=_cbs_reference(),
            bestandsnaam=report_file_name(kind, gemeente, delivery_ref or referentienummer),
            cross_refnummer=referentienummer,
            cross_refnummer_bericht=delivery_ref,
        )
        delivered = (meta.get("file") or {}).get("name") or meta.get("bestandsnaam")
        pdf = build_report_pdf(
            ReportText(
                kind=kind,
                gemeente=gemeente,
                delivery_reference=delivery_ref,
                delivered_file=delivered,
                message_reference=referentienummer,
                report_file=message.bestandsnaam,
            )
        )
        record = self._send(message, pdf, kind, trigger)
        summary = {
            k: record.get(k)
            for k in ("referentienummer", "kind", "functie", "trigger", "status", "finished_at")
        }
        summary["code"] = (record.get("answer") or {}).get("code")
        self.store.update_meta(
            referentienummer, lambda m: m.setdefault("reports", []).append(summary)
        )
        return record

    def unsolicited(self, gemeente: str, kind: str, *, trigger: str = "control") -> dict[str, Any]:
        """Send a Di01 report to a gemeente that answers nothing (e.g. a reminder)."""
        kind = check_kind(kind)
        if not isinstance(gemeente, str) or not re.fullmatch(
            self.config.zender_organisatie_pattern, gemeente
        ):
            raise ReportError(f"gemeente moet een CBS-gemeentecode zijn, niet {gemeente!r}")
        reference = _cbs_reference()
        message = ReportMessage(
            zender=self.us,
            ontvanger=Systeem(organisatie=gemeente, applicatie=PORTAL_APPLICATIE),
            referentienummer=str(uuid.uuid4()),
            tijdstip_bericht=self.clock.next(),
            functie=REPORT_KINDS[kind],
            referentienummer_bericht=reference,
            bestandsnaam=report_file_name(kind, gemeente, reference),
        )
        pdf = build_report_pdf(
            ReportText(kind=kind, gemeente=gemeente, report_file=message.bestandsnaam)
        )
        return self._send(message, pdf, kind, trigger)

    # ------------------------------------------------------------------ sending

    def _send(self, message: ReportMessage, pdf: bytes, kind: str, trigger: str) -> dict[str, Any]:
        url = self.config.portal_url
        if not url:
            raise ReportError("geen portal_url geconfigureerd: rapporten kunnen niet weg")
        element = report_element(message, pdf)
        errors = self.schema.errors(element)
        if errors:  # our own bug: never let the portal be blamed for it
            raise RuntimeError(
                f"{message.berichtcode} niet conform ggk0310_msg.xsd: " + "; ".join(errors)
            )
        body = report_request(
            element,
            soap_action=message.soap_action,
            to=url,
            from_address=self.from_address,
            message_id=f"urn:uuid:{uuid.uuid4()}",
        )
        ref = message.referentienummer
        self.log.save_file(f"{ref}.xml", body)
        self.log.save_file(f"{ref}.pdf", pdf)
        record: dict[str, Any] = {
            "referentienummer": ref,
            "berichtcode": message.berichtcode,
            "kind": kind,
            "functie": message.functie,
            "gemeente": message.ontvanger.organisatie,
            "crossRefnummer": message.cross_refnummer,
            "crossRefnummerBericht": message.cross_refnummer_bericht,
            "referentienummerBericht": message.referentienummer_bericht,
            "bestandsnaam": message.bestandsnaam,
            "pdf": {"size": len(pdf), "sha256": hashlib.sha256(pdf).hexdigest()},
            "envelope": f"{REPORTS_DIR_NAME}/{ref}.xml",
            "url": url,
            "trigger": trigger,
            "created_at": _now(),
            "status": "sending",
            "attempts": 0,
        }
        self.log.add(record)
        outcome = self._deliver(body, message.soap_action)
        record.update(outcome)
        self.log.update(ref, outcome)
        self.state.count(f"reports_{record['status']}")
        answer = record.get("answer") or {}
        verdict = {
            "bv03": "Bv03",
            "fo03": f"Fo03 {answer.get('code')} {answer.get('plek')}",
        }.get(record["status"], f"MISLUKT: {record.get('error')}")
        text = (
            f"Rapport {message.berichtcode} ref={ref} functie={message.functie} "
            f"gemeente={message.ontvanger.organisatie} "
            f"crossRef={message.cross_refnummer or '-'} "
            f"aanlevering={message.cross_refnummer_bericht or '-'} -> {verdict} "
            f"(pogingen {record['attempts']})"
        )
        (log.warning if record["status"] == "failed" else log.info)("%s", text)
        return record

    def _deliver(self, body: bytes, soap_action: str) -> dict[str, Any]:
        """POST with retries; return the outcome fields for the record."""
        config = self.config
        assert config.portal_url
        session = requests.Session()
        # Only our own settings: REQUESTS_CA_BUNDLE or proxy variables in the environment
        # would otherwise silently override the pinned dev CA (a requests quirk).
        session.trust_env = False
        attempts = 0
        try:
            while True:
                attempts += 1
                http_status: int | None = None
                try:
                    response = session.post(
                        config.portal_url,
                        data=body,
                        headers={
                            "Content-Type": "text/xml; charset=utf-8",
                            "SOAPAction": f'"{soap_action}"',
                        },
                        cert=config.report_cert_pair,
                        verify=config.report_verify,
                        timeout=(10.0, config.report_timeout_seconds),
                    )
                except requests.RequestException as exc:
                    error = f"verbindingsfout: {type(exc).__name__}: {exc}"[:500]
                else:
                    http_status = response.status_code
                    answer = read_portal_answer(response.content)
                    if answer is not None and (
                        answer.berichtcode == "Fo03"
                        or (answer.berichtcode == "Bv03" and http_status == 200)
                    ):
                        return _outcome(answer.berichtcode.lower(), attempts, http_status, answer)
                    snippet = response.text[:200].strip()
                    error = f"HTTP {http_status} zonder Bv03/Fo03: {snippet!r}"
                    if http_status < 500:  # 4xx (e.g. 403: certificate) will not improve
                        return _outcome("failed", attempts, http_status, error=error)
                log.info("Rapport: poging %d mislukt: %s", attempts, error)
                if attempts >= config.report_max_attempts:
                    return _outcome("failed", attempts, http_status, error=error)
                delay = min(config.report_retry_base_seconds * 2 ** (attempts - 1), 30.0)
                if self.stop_event.wait(delay):
                    return _outcome("failed", attempts, http_status, error=f"gestopt; {error}")
        finally:
            session.close()


def _outcome(
    status: str,
    attempts: int,
    http_status: int | None,
    answer: Any = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "attempts": attempts,
        "http_status": http_status,
        "answer": answer.as_dict() if answer is not None else None,
        "error": error,
        "finished_at": _now(),
    }


def _cbs_reference() -> str:
    """CBS's own reference for the report (referentienummerBericht, ≤ 40 chars)."""
    return f"CBS-{dt.date.today():%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"


# ====================================================================== auto-report


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    ref: str = field(compare=False)
    kind: str = field(compare=False)


class AutoReporter:
    """Answers every accepted delivery with a report after a delay, exactly once.

    "Exactly once" is recorded in the message's ``meta.json`` (``auto_report``) under the
    message's lock, so an identical resend of the Di01 (answered with the same Bv03, not
    stored again) or a simulator restart never produces a second report. Grote
    Berichten deliveries are reported on only after the download has completed, as CBS
    can only judge a file it has.

    One worker thread sends due reports in order, so reports arrive in the order the
    deliveries were accepted (which ``alternate`` and the tests rely on).
    """

    def __init__(
        self,
        config: SimulatorConfig,
        store: MessageStore,
        sender: ReportSender,
        stop_event: threading.Event,
    ) -> None:
        self.store = store
        self.sender = sender
        self.stop_event = stop_event
        self.mode = config.auto_report
        self.delay_seconds = config.auto_report_delay_seconds
        self._cond = threading.Condition()
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._alternate_lock = threading.Lock()
        self._alternate_next = "foutrapport"
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the worker and re-queue reports that were due when we last stopped."""
        self._thread = threading.Thread(target=self._run, name="auto-report", daemon=True)
        self._thread.start()
        if self.mode == "off":
            return
        for meta in self.store.all_meta():
            auto = meta.get("auto_report") or {}
            if auto.get("status") == "scheduled" and auto.get("kind") in REPORT_KINDS:
                self._push(meta["referentienummer"], auto["kind"])

    def stop(self, timeout: float) -> None:
        """Wake the worker (the stop event is already set) and wait for it."""
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def configure(self, mode: str | None = None, delay_seconds: float | None = None) -> None:
        """Change mode/delay at run time (control API); affects deliveries from now on."""
        if mode is not None:
            if mode not in AUTO_REPORT_MODES:
                raise ReportError(f"mode moet een van {', '.join(AUTO_REPORT_MODES)} zijn")
            if mode != "off" and not self.sender.config.portal_url:
                raise ReportError("auto-report vereist een portal_url")
            self.mode = mode
        if delay_seconds is not None:
            if delay_seconds < 0:
                raise ReportError("delay_seconds mag niet negatief zijn")
            self.delay_seconds = delay_seconds

    def reset(self) -> None:
        """Start alternating from the beginning again (control reset)."""
        with self._alternate_lock:
            self._alternate_next = "foutrapport"

    def snapshot(self) -> dict[str, Any]:
        """For ``/control/status`` and ``/control/reports``."""
        with self._cond:
            pending = len(self._queue) + self._in_flight
        return {"mode": self.mode, "delay_seconds": self.delay_seconds, "pending": pending}

    # ------------------------------------------------------------------ triggers

    def message_accepted(self, referentienummer: str) -> None:
        """A Di01 was stored: schedule a report unless the file still has to be fetched."""
        meta = self.store.load_meta(referentienummer)
        if meta is not None and meta.get("kind") == "inline":
            self._schedule(referentienummer)

    def download_complete(self, referentienummer: str) -> None:
        """A Grote Berichten download finished and was verified."""
        self._schedule(referentienummer)

    def _schedule(self, referentienummer: str) -> None:
        if self.mode == "off":
            return
        chosen: list[str] = []

        def claim(meta: dict[str, Any]) -> None:
            if (
                meta.get("functie") not in AUTO_REPORT_FUNCTIES
                or not meta.get("complete")
                or meta.get("auto_report")
            ):
                return
            kind = self._next_kind()
            meta["auto_report"] = {
                "status": "scheduled",
                "kind": kind,
                "scheduled_at": _now(),
                "delay_seconds": self.delay_seconds,
            }
            chosen.append(kind)

        self.store.update_meta(referentienummer, claim)
        if chosen:
            log.info(
                "Auto-rapport %s over %ss voor %s", chosen[0], self.delay_seconds, referentienummer
            )
            self._push(referentienummer, chosen[0])

    def _next_kind(self) -> str:
        if self.mode != "alternate":
            return self.mode
        with self._alternate_lock:
            kind = self._alternate_next
            self._alternate_next = "op_orde" if kind == "foutrapport" else "foutrapport"
            return kind

    def _push(self, referentienummer: str, kind: str) -> None:
        due = _Due(time.monotonic() + self.delay_seconds, next(self._seq), referentienummer, kind)
        with self._cond:
            heapq.heappush(self._queue, due)
            self._cond.notify_all()

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self.stop_event.is_set():
                        return
                    now = time.monotonic()
                    if self._queue and self._queue[0].at <= now:
                        job = heapq.heappop(self._queue)
                        self._in_flight += 1
                        break
                    self._cond.wait(self._queue[0].at - now if self._queue else None)
            try:
                self._send(job)
            finally:
                with self._cond:
                    self._in_flight -= 1

    def _send(self, job: _Due) -> None:
        """Send one due report; whatever happens, the simulator carries on."""
        try:
            record = self.sender.answer(job.ref, job.kind, trigger="auto")
            result = {"status": record["status"], "report": record["referentienummer"]}
        except UnknownMessage:
            log.info("Auto-rapport voor %s vervalt: bericht is verwijderd", job.ref)
            return
        except Exception as exc:  # a bug or a full disk: record, don't kill the worker
            log.exception("Auto-rapport voor %s mislukt", job.ref)
            result = {"status": "failed", "error": f"interne fout: {exc}"[:300]}

        def change(meta: dict[str, Any]) -> None:
            meta.setdefault("auto_report", {}).update(result, finished_at=_now())

        try:
            self.store.update_meta(job.ref, change)
        except OSError:
            log.exception("Auto-rapport-status van %s niet opgeslagen", job.ref)
