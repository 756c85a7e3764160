from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from msdportaal.agenda.selectors import coming_period
from msdportaal.organisations.decorators import acting_municipality_required

from .selectors import period_overview


@acting_municipality_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "overview/index.html",
        {
            "municipality": request.acting_municipality,  # type: ignore[attr-defined]
            "periods": period_overview(request),
            "coming": coming_period(request.acting_municipality),  # type: ignore[attr-defined]
        },
    )
