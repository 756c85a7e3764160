"""Digikoppeling Grote Berichten (pull): reading the metadata and fetching the file.

When a Di01's payload is a ``digikoppeling-external-data-references`` document, the
Di01 only announces a file; RINIS fetches it from the portal's ``senderUrl``. This is
the part of the exchange where the portal is the *server*, so the simulator plays a
strict client, following the GB standard:

- two-sided TLS with RINIS's client certificate, the portal's certificate checked
  against the (dev) CA (GB006–GB012);
- HTTP GET with byte ranges; after a broken transfer it resumes with
  ``Range: bytes=<have>-`` and ``If-Range: <etag>`` and accepts a 206 only when its
  ``Content-Range`` starts where we stopped, or starts over on a 200 (GB001–GB005);
- size and checksum are checked against the metadata; a mismatch is a failed
  transfer (GB014/GB015).

Downloads run in background threads; ``meta.json`` says ``complete: true`` only when the
file is in place and verified.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree

from .config import SimulatorConfig
from .state import ControlState
from .storage import RESERVED_NAMES, MessageStore, fsync_dir
from .stuf import BESTANDSNAAM_RE, STUF055, Rejection, SchemaValidator, parse_document

log = logging.getLogger("rinis_simulator.gb")

GB_NS = "http://www.logius.nl/digikoppeling/gb/2010/10"
GB_ROOT_TAG = f"{{{GB_NS}}}digikoppeling-external-data-references"

#: checksum/@type in gb-pull.xsd → hashlib name and hex length.
CHECKSUMS = {
    "MD5": ("md5", 32),
    "SHA1": ("sha1", 40),
    "SHA256": ("sha256", 64),
    "SHA384": ("sha384", 96),
    "SHA512": ("sha512", 128),
}

_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class GbReference:
    """One ``data-reference`` of a GB metadata document."""

    filename: str
    checksum_type: str
    checksum: str
    size: int
    content_type: str
    sender_url: str
    creation_time: str | None
    expiration_time: str | None
    context_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for meta.json."""
        return asdict(self)


def looks_like_gb(payload_prefix: bytes) -> bool:
    """Cheap first test: could this payload be an XML document at all?"""
    stripped = payload_prefix.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped.startswith(b"<")


def gb_root(payload: bytes) -> etree._Element | None:
    """The parsed payload when it is GB metadata, else ``None`` (it is just a file)."""
    try:
        root = parse_document(payload)
    except Rejection:
        return None
    return root if root.tag == GB_ROOT_TAG else None


def parse_gb_reference(
    root: etree._Element, validator: SchemaValidator, now: dt.datetime | None = None
) -> GbReference:
    """Validate GB metadata and return its single data-reference.

    Everything wrong here is the sender's mistake, so it is refused at once (Fo03,
    plek client) rather than discovered later in a download that can never succeed.
    """
    errors = validator.errors(root)
    if errors:
        raise Rejection(
            STUF055, "Grote-Berichten-metadata niet conform gb-pull.xsd: " + "; ".join(errors)
        )
    refs = root.findall(f"{{{GB_NS}}}data-reference")
    if len(refs) != 1:
        raise Rejection(STUF055, f"Verwacht precies één data-reference, gevonden: {len(refs)}")
    ref = refs[0]

    def text(*path: str) -> str | None:
        node: etree._Element | None = ref
        for local in path:
            assert node is not None
            node = node.find(f"{{{GB_NS}}}{local}")
            if node is None:
                return None
        return (node.text or "").strip()

    content = ref.find(f"{{{GB_NS}}}content")
    checksum_el = content.find(f"{{{GB_NS}}}checksum") if content is not None else None
    assert content is not None
    assert checksum_el is not None
    filename = text("content", "filename") or ""
    checksum_type = checksum_el.get("type", "")
    checksum = (checksum_el.text or "").strip().lower()
    size = int(text("content", "size") or "0")
    sender_url = text("transport", "location", "senderUrl")
    creation = text("lifetime", "creationTime")
    expiration = text("lifetime", "expirationTime")

    if sender_url is None:
        raise Rejection(STUF055, "Pull-profiel vereist transport/location/senderUrl")
    if urlsplit(sender_url).scheme != "https":
        raise Rejection(STUF055, f"senderUrl moet https zijn (GB006): {sender_url}")
    if not BESTANDSNAAM_RE.match(filename) or filename in RESERVED_NAMES:
        raise Rejection(STUF055, f"GB-bestandsnaam niet bruikbaar: {filename!r}")
    algorithm = CHECKSUMS.get(checksum_type)
    if algorithm is None or len(checksum) != algorithm[1]:
        raise Rejection(STUF055, f"Checksum {checksum_type} heeft niet de juiste lengte")
    if expiration:
        expires = _parse_datetime(expiration)
        if expires is not None and expires <= (now or dt.datetime.now(dt.UTC)):
            raise Rejection(STUF055, f"GB-bestand is al verlopen (expirationTime {expiration})")
    return GbReference(
        filename=filename,
        checksum_type=checksum_type,
        checksum=checksum,
        size=size,
        content_type=content.get("contentType", ""),
        sender_url=sender_url,
        creation_time=creation,
        expiration_time=expiration,
        context_id=ref.get("contextId"),
    )


def _parse_datetime(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class _AttemptFailed(Exception):
    """This attempt did not finish; *restart* means: throw the partial file away."""

    def __init__(self, reason: str, *, restart: bool = False, simulated: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.restart = restart
        self.simulated = simulated


@dataclass
class _Job:
    """One download in progress (lives in its thread; mirrored to meta.json)."""

    ref: str
    reference: GbReference
    part: Path
    attempts: int
    etag: str | None
    last_error: str | None


class GbDownloader:
    """Runs Grote Berichten downloads in background threads."""

    def __init__(
        self,
        config: SimulatorConfig,
        store: MessageStore,
        state: ControlState,
        stop: threading.Event,
        on_complete: Callable[[str], None] | None = None,
    ) -> None:
        """*on_complete* is told the referentienummer of every verified download (the
        auto-reporter answers a Grote Berichten delivery only once it has the file)."""
        self.config = config
        self.store = store
        self.state = state
        self.stop_event = stop
        self.on_complete = on_complete
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()

    def start(self, referentienummer: str) -> None:
        """Start downloading the file announced by a stored message."""
        thread = threading.Thread(
            target=self._run,
            args=(referentienummer,),
            name=f"gb-{referentienummer}",
            daemon=True,
        )
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def resume_pending(self) -> list[str]:
        """After a restart, continue every download that had not finished."""
        resumed = []
        for meta in self.store.all_meta():
            gb = meta.get("gb")
            if gb and gb.get("status") in ("pending", "downloading"):
                self.start(meta["referentienummer"])
                resumed.append(meta["referentienummer"])
        return resumed

    def join(self, timeout: float) -> None:
        """Wait for running downloads (after the stop event was set)."""
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    # ------------------------------------------------------------------ one download

    def _run(self, ref: str) -> None:
        meta = self.store.load_meta(ref)
        if meta is None or not meta.get("gb"):
            return
        reference = GbReference(**meta["gb"]["reference"])
        job = _Job(
            ref=ref,
            reference=reference,
            part=self.store.directory(ref) / f".{reference.filename}.part",
            attempts=int(meta["gb"].get("attempts", 0)),
            etag=meta["gb"].get("etag"),
            last_error=meta["gb"].get("last_error"),
        )
        break_after = self.state.take_gb_break()
        self._update(ref, status="downloading")
        session = requests.Session()
        # Only our own settings: REQUESTS_CA_BUNDLE or proxy variables in the environment
        # would otherwise silently override the pinned dev CA (a requests quirk).
        session.trust_env = False
        try:
            while not self.stop_event.is_set():
                if job.attempts >= self.config.gb_max_attempts:
                    self._fail(
                        job,
                        f"maximaal aantal pogingen ({job.attempts}) bereikt; "
                        f"laatste fout: {job.last_error}",
                    )
                    return
                job.attempts += 1
                this_break, break_after = break_after, None
                try:
                    self._attempt(session, job, this_break)
                    self._install(job)
                except _AttemptFailed as failed:
                    if failed.restart:
                        with contextlib.suppress(FileNotFoundError):
                            job.part.unlink()
                        job.etag = None
                    job.last_error = failed.reason
                    self._update(
                        ref, attempts=job.attempts, etag=job.etag, last_error=failed.reason
                    )
                    log.info("GB %s poging %d mislukt: %s", ref, job.attempts, failed.reason)
                    if not failed.simulated:
                        self.stop_event.wait(
                            min(self.config.gb_retry_base_seconds * 2 ** (job.attempts - 1), 30.0)
                        )
                else:
                    self._notify_complete(ref)
                    return
            # Stopping: the status stays "downloading", so the next start resumes it.
        except Exception as exc:  # a bug or a vanished directory: record, don't crash
            log.exception("GB %s: download afgebroken", ref)
            with contextlib.suppress(Exception):
                self._update(ref, status="failed", last_error=f"interne fout: {exc}")
        finally:
            session.close()

    def _attempt(self, session: requests.Session, job: _Job, break_after: int | None) -> None:
        """One GET into the part file; raises _AttemptFailed unless it is all there.

        The ETag is remembered as soon as the headers arrive, so a transfer that breaks
        halfway can be resumed with ``If-Range``.
        """
        have = job.part.stat().st_size if job.part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if have and job.etag:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = job.etag
        elif have:
            # Without a validator a resumed range could mix two versions: start over.
            job.part.unlink()
            have = 0
        transfer: dict[str, Any] = {
            "attempt": job.attempts,
            "range": headers.get("Range"),
            "if_range": headers.get("If-Range"),
        }
        try:
            with session.get(
                job.reference.sender_url,
                headers=headers,
                stream=True,
                cert=self.config.gb_cert_pair,
                verify=self.config.gb_verify,
                timeout=(10.0, self.config.gb_timeout_seconds),
            ) as response:
                transfer["status"] = response.status_code
                mode = self._check_response(response, have, job.reference)
                if mode == "wb":
                    have = 0
                etag = response.headers.get("ETag")
                transfer["etag"] = etag
                if etag and etag.startswith("W/"):
                    etag = None  # If-Range needs a strong validator (RFC 9110 §13.1.5)
                job.etag = etag or (job.etag if mode == "ab" else None)
                transfer["bytes"] = self._receive(
                    response, job.part, mode, have, job.reference, break_after
                )
        except requests.RequestException as exc:
            transfer["error"] = f"{type(exc).__name__}: {exc}"[:300]
            self._record(job, transfer)
            raise _AttemptFailed(f"verbindingsfout: {exc}") from exc
        except _AttemptFailed as failed:
            transfer["error"] = failed.reason
            self._record(job, transfer)
            raise
        self._record(job, transfer)
        size = job.part.stat().st_size if job.part.exists() else 0
        if size < job.reference.size:
            raise _AttemptFailed(f"onvolledig: {size} van {job.reference.size} bytes")

    def _check_response(
        self, response: requests.Response, have: int, reference: GbReference
    ) -> str:
        """Decide how to use a response: ``"ab"`` (append) or ``"wb"`` (from scratch)."""
        status = response.status_code
        if status == 206 and have:
            match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise _AttemptFailed(
                    f"206 met onverwachte Content-Range {response.headers.get('Content-Range')!r}",
                    restart=True,
                )
            return "ab"
        if status == 200:
            return "wb"
        if status == 416 and have >= reference.size:
            return "ab"  # we already have everything; verification decides
        raise _AttemptFailed(f"HTTP {status} van senderUrl", restart=status == 416)

    def _receive(
        self,
        response: requests.Response,
        part: Path,
        mode: str,
        have: int,
        reference: GbReference,
        break_after: int | None,
    ) -> int:
        """Stream the body into the part file; optionally break off (control option)."""
        received = 0
        if response.status_code == 416:
            return 0
        with open(part, mode) as handle:
            for chunk in response.iter_content(_READ_CHUNK):
                if self.stop_event.is_set():
                    raise _AttemptFailed("simulator stopt")
                if break_after is not None and have + received + len(chunk) >= break_after:
                    keep = max(break_after - have - received, 0)
                    handle.write(chunk[:keep])
                    received += keep
                    handle.flush()
                    os.fsync(handle.fileno())
                    raise _AttemptFailed(
                        f"verbinding gesimuleerd verbroken na {have + received} bytes",
                        simulated=True,
                    )
                handle.write(chunk)
                received += len(chunk)
                if have + received > reference.size:
                    raise _AttemptFailed(
                        "meer bytes ontvangen dan aangekondigd (GB014)", restart=True
                    )
            handle.flush()
            os.fsync(handle.fileno())
        return received

    def _install(self, job: _Job) -> None:
        """Verify size and checksum, then move the file into place and mark complete.

        A file that fails verification is never kept: the attempt fails with
        ``restart`` so the next one downloads from scratch.
        """
        ref, reference, part = job.ref, job.reference, job.part
        algorithm = CHECKSUMS[reference.checksum_type][0]
        digest = hashlib.new(algorithm, usedforsecurity=False)
        sha256 = hashlib.sha256()
        size = 0
        with open(part, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
        if size != reference.size:
            raise _AttemptFailed(
                f"grootte {size} wijkt af van aangekondigde {reference.size} (GB014)",
                restart=True,
            )
        if digest.hexdigest() != reference.checksum:
            raise _AttemptFailed(
                f"{reference.checksum_type}-checksum wijkt af (GB015)", restart=True
            )
        target = part.parent / reference.filename
        os.replace(part, target)
        fsync_dir(part.parent)

        def done(meta: dict[str, Any]) -> None:
            meta["complete"] = True
            meta["file"] = {"name": reference.filename, "size": size, "sha256": sha256.hexdigest()}
            meta["sha256"] = sha256.hexdigest()
            meta["size"] = size
            meta["gb"].update(
                status="complete",
                attempts=job.attempts,
                etag=job.etag,
                completed_at=_utcnow(),
                last_error=None,
            )

        self.store.update_meta(ref, done)
        log.info(
            "GB %s: %s binnen (%d bytes, %d poging(en))",
            ref,
            reference.filename,
            size,
            job.attempts,
        )

    def _notify_complete(self, ref: str) -> None:
        """Tell the listener; its trouble must not turn a good download into "failed"."""
        if self.on_complete is None:
            return
        try:
            self.on_complete(ref)
        except Exception:
            log.exception("GB %s: verwerking na download mislukt", ref)

    def _fail(self, job: _Job, reason: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            job.part.unlink()
        self._update(job.ref, status="failed", last_error=reason)
        log.warning("GB %s: download definitief mislukt: %s", job.ref, reason)

    def _update(self, ref: str, **changes: Any) -> None:
        def change(meta: dict[str, Any]) -> None:
            meta["gb"].update(changes)

        self.store.update_meta(ref, change)

    def _record(self, job: _Job, transfer: dict[str, Any]) -> None:
        """Keep the last requests in meta.json (useful when debugging the portal's server)
        together with the ETag, so a restarted simulator can still resume the transfer."""

        def change(meta: dict[str, Any]) -> None:
            transfers = meta["gb"].setdefault("transfers", [])
            transfers.append(transfer)
            del transfers[:-20]
            meta["gb"]["etag"] = job.etag

        self.store.update_meta(job.ref, change)


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
