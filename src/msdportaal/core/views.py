from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("organisations:login")
    return redirect("overview:index")


@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """Touching the session moves its inactivity deadline on (SESSION_SAVE_EVERY_REQUEST)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return HttpResponse(status=204)
