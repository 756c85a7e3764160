from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .navigation import navigation


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    municipal = bool(user is not None and user.is_authenticated and not user.is_staff)
    context: dict[str, Any] = {
        "dev_login_banner": settings.DEV_LOGIN_ENABLED,
        "acting_municipality": getattr(request, "acting_municipality", None),
        "navigation": [],
        "logout_url": reverse("organisations:logout"),
        "session_timeout_seconds": settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
        if municipal
        else None,
        "session_keepalive_url": reverse("core:keepalive"),
        "can_switch_municipality": False,
        "login_intermediary": "",
        "switch_municipality_url": reverse("organisations:choose"),
    }
    if municipal:
        from msdportaal.notifications.services import unread_count

        # What this session's login is for (set by ActingMunicipalityMiddleware from the
        # session, organisations/session.py), never what another login of the person is for.
        context["can_switch_municipality"] = len(getattr(request, "login_municipalities", [])) > 1
        context["login_intermediary"] = getattr(request, "login_intermediary", "")
        unread = unread_count(context["acting_municipality"])
        context["navigation"] = navigation(request, {"notifications:inbox": unread})
    return context
