"""Readiness checks: can this process reach what it needs to do its work?

Each check answers ``(ok, detail)``. The detail is safe to show anyone: it never holds
a URL, host name, user name or exception message (those go to the log).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections

logger = structlog.stdlib.get_logger(__name__)

PROBE_CONTENT = b"msdportaal health probe\n"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    duration_ms: float

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "error",
            "detail": self.detail,
            "duration_ms": self.duration_ms,
        }


def check_database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    if one != 1:
        raise RuntimeError("SELECT 1 did not answer 1")
    return "SELECT 1"


def _broker_transport_options() -> dict[str, object]:
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})
    timeout = settings.MSD_HEALTH_TIMEOUT_SECONDS
    options.setdefault("socket_connect_timeout", timeout)
    options.setdefault("socket_timeout", timeout)
    return options


def check_broker() -> str:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    timeout = settings.MSD_HEALTH_TIMEOUT_SECONDS
    options = _broker_transport_options()
    with Connection(url, connect_timeout=timeout, transport_options=options) as connection:
        # No retries: a readiness probe wants the answer now, not after a back-off.
        connection.ensure_connection(max_retries=0, timeout=timeout)
        driver = connection.transport.driver_type
        if driver == "filesystem":
            # Connecting to the filesystem broker always "works"; the folders must too.
            for key in ("data_folder_in", "data_folder_out"):
                folder = options.get(key)
                if folder and not os.access(str(folder), os.W_OK | os.X_OK):
                    raise RuntimeError(f"filesystem broker folder {key} is not writable")
    return driver


def check_storage() -> str:
    name = default_storage.save(f"health/probe-{uuid.uuid4().hex}", ContentFile(PROBE_CONTENT))
    try:
        with default_storage.open(name, "rb") as handle:
            if handle.read() != PROBE_CONTENT:
                raise RuntimeError("the probe file read back differently")
    finally:
        default_storage.delete(name)
    return "write, read, delete"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as exc:
            logger.warning("readiness check failed", check=name, exc_info=True)
            detail, ok = f"{name} niet bereikbaar ({type(exc).__name__})", False
        results.append(CheckResult(name, ok, detail, round((time.monotonic() - started) * 1000, 1)))
    return results
