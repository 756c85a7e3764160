"""A request id for every request: in each log line of the request and in the response."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

logger = structlog.stdlib.get_logger("msdportaal.request")

HEADER = "X-Request-ID"
#: What we accept from a proxy or client: short, and nothing a log reader or a header
#: could trip over (no spaces, quotes, control characters or line breaks).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")
#: Probes and scrapes log at DEBUG: every few seconds, and nothing to learn from them.
QUIET_PATHS = frozenset({"/gezond/", "/gereed/", "/metrics"})


def request_id_from(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    if SANE_REQUEST_ID.fullmatch(given):
        return given
    return str(uuid.uuid4())


def _loggable_path(request: HttpRequest) -> str:
    """The path, without secrets in it (the Grote Berichten token)."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    if match is not None:
        for name in ("token",):
            value = match.kwargs.get(name)
            if value:
                path = path.replace(str(value), "***")
    return path


class RequestIdMiddleware:
    """Binds ``request_id`` to the log context, returns it as ``X-Request-ID`` and logs
    one line per request (method, path, status, duration). The first middleware, so
    every line the request causes carries the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        # Cleared here, not when the request ends: Django logs 4xx/5xx responses
        # ("django.request") after the middleware chain has returned, and those lines
        # need the id too. The next request on this thread starts afresh.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.monotonic()
        response = self.get_response(request)
        response[HEADER] = request_id
        log = logger.debug if request.path in QUIET_PATHS else logger.info
        log(
            "request",
            method=request.method,
            path=_loggable_path(request),
            status=response.status_code,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return response
