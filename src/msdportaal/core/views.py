from __future__ import annotations

import sys
import time

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseServerError,
)
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.http import require_POST

from .middleware import (
    error_page_context,
    is_database_unavailable,
    is_machine_path,
    service_unavailable,
)
from .sessions import REFRESHED_KEY


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("organisations:login")
    return redirect("overview:index")


@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """Writes the session now, whenever it was last refreshed: the user asked to stay."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    request.session[REFRESHED_KEY] = int(time.time())
    return HttpResponse(status=204)


# --- error pages (handler400/403/404/500 in msdportaal/urls.py) ---------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Standalone: a 400 can come from a request too broken for the context processors.
    body = render_to_string("errors/400.html", error_page_context(request))
    return HttpResponseBadRequest(body)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return defaults.permission_denied(request, exception, template_name="errors/403.html")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return defaults.page_not_found(request, exception, template_name="errors/404.html")


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this while handling the exception, so ``sys.exc_info()`` is it: a
    database that is away (the session or user failing to load in a middleware included)
    gets the 503 page, anything else the 500 page. Neither touches the database."""
    if is_machine_path(request.path_info):
        # RINIS and the probes are machines: no HTML page for them (the inbound endpoint
        # answers its own SOAP faults; this is only what escapes it).
        return HttpResponseServerError("Internal Server Error", content_type="text/plain")
    if is_database_unavailable(sys.exc_info()[1]):
        return service_unavailable(request)
    body = render_to_string("errors/500.html", error_page_context(request))
    return HttpResponseServerError(body)
