"""Every API error as a problem document (RFC 9457), in Dutch.

``type`` is a stable URI per kind of problem under ``/api/v1/problemen/``, documented in
docs/api.md; ``code`` repeats its last part for clients that switch on it.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: _("Ongeldig verzoek"),
    401: _("Niet geïdentificeerd"),
    403: _("Geen toegang"),
    404: _("Niet gevonden"),
    405: _("Methode niet toegestaan"),
    406: _("Niet aanvaardbaar"),
    409: _("Conflict"),
    410: _("Niet meer beschikbaar"),
    412: _("Voorwaarde niet vervuld"),
    413: _("Te groot"),
    415: _("Mediatype niet ondersteund"),
    423: _("In gebruik"),
    429: _("Te veel verzoeken"),
    460: _("Controlegetal klopt niet"),
}


class Problem(exceptions.APIException):
    """An API refusal with its own status and code."""

    def __init__(self, status_code: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.extra = extra


def problem_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body = {
        "type": f"/api/v1/problemen/{code}",
        "title": str(_TITLES.get(status_code, _("Fout"))),
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes.replace("_", "-")
    return "ongeldige-invoer"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        return problem_response(
            404, "niet-gevonden", _("Dit bestaat niet, of uw systeem mag het niet zien.")
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    headers = {
        k: v for k, v in response.headers.items() if k in ("WWW-Authenticate", "Retry-After")
    }
    extra = getattr(exc, "extra", {})
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(
            status.HTTP_400_BAD_REQUEST,
            "ongeldige-invoer",
            _("De invoer klopt niet; zie 'fouten'."),
            headers,
            fouten=exc.detail,
        )
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        return problem_response(
            429,
            "te-veel-verzoeken",
            _(
                "Uw systeem stuurt meer verzoeken dan is toegestaan. Probeer het over %(wait)d "
                "seconden opnieuw."
            )
            % {"wait": wait},
            {**headers, "Retry-After": str(wait)},
        )
    detail = str(exc.detail)
    return problem_response(response.status_code, _code(exc), detail, headers, **extra)
