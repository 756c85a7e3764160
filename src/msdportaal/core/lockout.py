"""The login lockout (django-axes) counts password logins only: the IB admin's.

eHerkenning and the development login authenticate with a verified identity
(``MunicipalIdentityBackend``); a refusal there is not a guessed password, and must never
lock out a gemeente's employees who share an office address, nor may their logins reset
the count of an administrator's failures. Settings: section "Hardening" in settings.py.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def is_not_a_password_login(request: HttpRequest | None, credentials: dict[str, Any]) -> bool:
    """AXES_WHITELIST_CALLABLE: a login without a password neither counts nor is refused.

    (Axes passes ``password=None`` for those; Django's failure signal leaves the key out.)
    """
    return not (credentials or {}).get("password")


class PasswordLoginHandler(AxesDatabaseHandler):
    """AXES_HANDLER: the database handler, but a municipal login never resets the failure
    count. Otherwise a gemeente user at the same address could wipe an administrator's
    failures between guesses and guess on for ever."""

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        backend = request.session.get(BACKEND_SESSION_KEY, "") if request is not None else ""
        if backend not in settings.MSD_LOCKOUT_PASSWORD_BACKENDS:
            return
        super().user_logged_in(sender, request, user, **kwargs)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any]
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a Dutch page (429 Too Many Requests) instead of the form."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    return render(
        request,
        "core/lockout.html",
        {"failure_limit": get_failure_limit(request, credentials), "cooloff_minutes": minutes},
        status=429,
    )
