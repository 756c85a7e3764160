"""Which gemeente is the user acting for right now? Set on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .models import Municipality
from .session import (
    ACTING_MUNICIPALITY_KEY,
    chosen_municipality_id,
    login_intermediary,
    login_municipalities,
)

#: Kept under its old name: tests and the benchmark set a choice in a session with it.
SESSION_KEY = ACTING_MUNICIPALITY_KEY


def resolve_acting_municipality(request: HttpRequest) -> Municipality | None:
    """The gemeente chosen in this session, or the only one this login is for.

    Everything comes from this session's own login (``session.py``), so another login of
    the same person, for another gemeente, changes nothing here. Membership is checked on
    every request: taking a gemeente away from a user takes effect immediately.
    """
    request.login_municipalities = []  # type: ignore[attr-defined]
    request.login_intermediary = ""  # type: ignore[attr-defined]
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return None
    allowed = list(login_municipalities(request))
    request.login_municipalities = allowed  # type: ignore[attr-defined]
    request.login_intermediary = login_intermediary(request)  # type: ignore[attr-defined]
    chosen = chosen_municipality_id(request)
    if chosen is not None:
        for municipality in allowed:
            if municipality.pk == chosen:
                return municipality
    return allowed[0] if len(allowed) == 1 else None


class ActingMunicipalityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.acting_municipality = resolve_acting_municipality(request)  # type: ignore[attr-defined]
        return self.get_response(request)
