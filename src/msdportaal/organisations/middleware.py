"""Which gemeente is the user acting for right now? Set on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .models import Municipality

SESSION_KEY = "acting_municipality_id"


def resolve_acting_municipality(request: HttpRequest) -> Municipality | None:
    """The chosen gemeente, or the only one when the user acts for just one.

    The session only holds a choice; membership is checked on every request, so
    taking a gemeente away from a user takes effect immediately.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return None
    allowed = user.municipalities.active()
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        municipality = allowed.filter(pk=chosen).first()
        if municipality is not None:
            return municipality
    only = list(allowed[:2])
    return only[0] if len(only) == 1 else None


class ActingMunicipalityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.acting_municipality = resolve_acting_municipality(request)  # type: ignore[attr-defined]
        return self.get_response(request)
