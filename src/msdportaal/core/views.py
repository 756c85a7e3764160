from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from msdportaal.organisations.decorators import acting_municipality_required


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("organisations:login")
    return redirect("core:overview")


@acting_municipality_required
def overview(request: HttpRequest) -> HttpResponse:
    from msdportaal.deliveries.overview import delivery_overview

    return render(
        request,
        "core/overview.html",
        {
            "municipality": request.acting_municipality,
            "periods": delivery_overview(request),
        },
    )


@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """Touching the session moves its inactivity deadline on (SESSION_SAVE_EVERY_REQUEST)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return HttpResponse(status=204)
