"""On-disk store of accepted messages: ``<storage>/<referentienummer>/``.

Each directory holds

- ``envelope.xml`` — the HTTP request body exactly as received (the whole SOAP message);
- the decoded payload under its ``StUF:bestandsnaam`` (for a Grote Berichten message:
  the GB metadata as ``gb-reference.xml`` and, once downloaded, the file under its GB
  ``filename``);
- ``meta.json`` — what the simulator learnt and decided (built in ``processor``).

A message is written into a staging directory first and renamed into place in one
step, after an fsync, because a Bv03 promises the message is stored safely (StUF 03.01
§4.4.1): a crash must leave either nothing or a complete directory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

ENVELOPE_NAME = "envelope.xml"
META_NAME = "meta.json"
GB_REFERENCE_NAME = "gb-reference.xml"
#: Names the simulator uses itself; a payload may not take them.
RESERVED_NAMES = frozenset({ENVELOPE_NAME, META_NAME, GB_REFERENCE_NAME, ".", ".."})

_B64_CHUNK_CHARS = 4 * 256 * 1024  # decode ~768 KiB at a time
_WHITESPACE = str.maketrans("", "", " \t\r\n")


class DecodeError(ValueError):
    """The base64 payload is not valid base64."""


def decode_base64_to(text: str, out: BinaryIO) -> tuple[int, str]:
    """Decode base64 *text* into *out* chunk by chunk; return ``(size, sha256 hex)``.

    The XML text is already in memory (the parser needs it), but the decoded bytes are
    never held as a second full copy: slices are decoded, hashed and written one by one.
    XML Schema base64Binary may contain whitespace, which is removed per slice.
    """
    digest = hashlib.sha256()
    size = 0
    pending = ""
    for start in range(0, len(text), _B64_CHUNK_CHARS):
        pending += text[start : start + _B64_CHUNK_CHARS].translate(_WHITESPACE)
        usable = len(pending) - len(pending) % 4
        if usable:
            size += _decode_piece(pending[:usable], out, digest)
            pending = pending[usable:]
    if pending:
        raise DecodeError("base64-inhoud heeft geen lengte die een veelvoud van 4 is")
    return size, digest.hexdigest()


def _decode_piece(piece: str, out: BinaryIO, digest: Any) -> int:
    try:
        data = binascii.a2b_base64(piece, strict_mode=True)
    except binascii.Error as exc:
        raise DecodeError(f"ongeldige base64-inhoud: {exc}") from exc
    digest.update(data)
    out.write(data)
    return len(data)


def decode_base64_prefix(text: str, max_bytes: int) -> bytes:
    """Decode (about) the first *max_bytes* bytes of *text*, for sniffing the payload."""
    wanted_chars = (max_bytes + 2) // 3 * 4
    piece = ""
    start = 0
    while len(piece) < wanted_chars and start < len(text):
        piece += text[start : start + wanted_chars].translate(_WHITESPACE)
        start += wanted_chars
    piece = piece[: len(piece) - len(piece) % 4]
    try:
        return base64.b64decode(piece, validate=True)
    except binascii.Error:
        return b""


def fsync_dir(path: Path) -> None:
    """Make a rename/creation in *path* durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_durably(path: Path, data: bytes) -> None:
    """Write *data* to *path* and fsync it."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class MessageStore:
    """The storage directory plus the per-reference locking around it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging_root = self.root / ".staging"
        self._staging_root.mkdir(exist_ok=True)
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._clean_staging()

    def _clean_staging(self) -> None:
        """Remove half-written messages from a previous run (never acknowledged)."""
        for leftover in self._staging_root.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)

    @contextlib.contextmanager
    def locked(self, referentienummer: str) -> Iterator[None]:
        """Serialise work on one reference (duplicate check, commit, meta updates)."""
        with self._locks_guard:
            lock = self._locks.setdefault(referentienummer, threading.Lock())
        with lock:
            yield

    def directory(self, referentienummer: str) -> Path:
        """Where a message with this reference lives (whether or not it exists)."""
        return self.root / referentienummer

    def staging_directory(self) -> Path:
        """A fresh private directory to assemble a message in before committing it."""
        return Path(tempfile.mkdtemp(prefix=f"{uuid.uuid4().hex}-", dir=self._staging_root))

    def commit(self, staging: Path, referentienummer: str) -> Path:
        """Atomically move a fully written staging directory into place."""
        for child in staging.iterdir():
            if child.is_file():
                with open(child, "rb") as handle:
                    os.fsync(handle.fileno())
        fsync_dir(staging)
        target = self.directory(referentienummer)
        os.rename(staging, target)
        fsync_dir(self.root)
        return target

    def discard(self, staging: Path) -> None:
        """Throw a staging directory away."""
        shutil.rmtree(staging, ignore_errors=True)

    def load_meta(self, referentienummer: str) -> dict[str, Any] | None:
        """meta.json of a stored message, or ``None`` when there is none."""
        path = self.directory(referentienummer) / META_NAME
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_meta(self, directory: Path, meta: dict[str, Any]) -> None:
        """Replace meta.json atomically (readers never see half a file)."""
        data = json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".meta.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, directory / META_NAME)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def update_meta(
        self, referentienummer: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None:
        """Load, change and rewrite meta.json under the reference's lock."""
        with self.locked(referentienummer):
            meta = self.load_meta(referentienummer)
            if meta is None:
                return None
            change(meta)
            self.write_meta(self.directory(referentienummer), meta)
            return meta

    def references(self) -> list[str]:
        """References of all stored messages."""
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / META_NAME).exists()
        )

    def all_meta(self) -> list[dict[str, Any]]:
        """meta.json of every stored message, oldest first."""
        metas = [m for ref in self.references() if (m := self.load_meta(ref)) is not None]
        return sorted(metas, key=lambda m: (m.get("received_at", ""), m.get("referentienummer")))

    def clear(self) -> int:
        """Delete every stored message (control API reset); return how many."""
        refs = self.references()
        for ref in refs:
            with self.locked(ref):
                shutil.rmtree(self.directory(ref), ignore_errors=True)
        return len(refs)
