"""A calm Dutch 503 while the database is away (docs/security.md, "Foutpagina's").

Two ways a database failure reaches the user, both answered with the same page:

- a view (or its template) raises: :meth:`DatabaseUnavailableMiddleware.process_exception`;
- a middleware raises, most often the session or the user being loaded from the database
  (SessionMiddleware, AuthenticationMiddleware and everything that reads ``request.user``):
  Django turns that into its 500 handler, and :func:`msdportaal.core.views.server_error`
  sends database errors here.

The inbound RINIS endpoint and the health/metrics endpoints keep their own answers: SOAP
for RINIS, JSON for the probes. An HTML page there would only confuse the machine asking.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import DatabaseError, InterfaceError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = structlog.stdlib.get_logger("msdportaal.errors")

#: Paths whose answers are for machines: never the HTML pages.
MACHINE_PATH_PREFIXES = ("/rinis/", "/gezond/", "/gereed/", "/metrics", "/api/v1/")


def is_machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PATH_PREFIXES)


def is_database_unavailable(exception: BaseException | None) -> bool:
    # OperationalError (refused, lost, timed out) is a DatabaseError; InterfaceError (a
    # closed connection) is not, in the DB-API hierarchy. Errors in our own SQL are
    # DatabaseErrors too: a 503 with Retry-After is no worse an answer to them than a 500.
    return isinstance(exception, DatabaseError | InterfaceError)


def error_page_context(request: HttpRequest | None) -> dict[str, str]:
    """What the standalone pages (400, 500, 503) show: nothing read from the database."""
    return {
        "support_email": settings.MSD_SUPPORT_EMAIL,
        "reference": getattr(request, "request_id", "") if request is not None else "",
    }


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 page, rendered without the request so no context processor runs."""
    body = render_to_string("errors/503.html", error_page_context(request))
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(settings.MSD_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """High in MIDDLEWARE, so its exception hook also sees what the views raise last."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception) or is_machine_path(request.path_info):
            return None
        logger.error(
            "database_unavailable",
            path=request.path,
            error=f"{type(exception).__name__}: {exception}",
        )
        return service_unavailable(request)
