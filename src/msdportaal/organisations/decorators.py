"""Access rules for the municipal part of the portal."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .services import needs_profile

View = Callable[..., HttpResponse]


def municipal_user_required(view: View) -> View:
    """A logged-in municipal user (IB staff never see municipal pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def acting_municipality_required(view: View) -> View:
    """Municipal pages: a completed profile and a chosen gemeente come first."""

    @municipal_user_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        next_query = urlencode({"next": request.get_full_path()})
        if needs_profile(request.user):
            return redirect(f"{reverse('organisations:profile')}?{next_query}")
        if request.acting_municipality is None:  # type: ignore[attr-defined]
            return redirect(f"{reverse('organisations:choose')}?{next_query}")
        return view(request, *args, **kwargs)

    return wrapper
