from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import (
    for_acting_municipality,
    get_for_acting_municipality_or_404,
)

from .models import Report
from .services import download_response


@acting_municipality_required
def inbox(request: HttpRequest) -> HttpResponse:
    reports = for_acting_municipality(
        Report.objects.select_related("delivery", "delivered_file__data_set").prefetch_related(
            "delivery__files__data_set"
        ),
        request,
    )
    return render(request, "reports/inbox.html", {"reports": reports})


@acting_municipality_required
def download(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_for_acting_municipality_or_404(Report.objects.all(), request, pk=pk)
    if report.purged_at is not None:  # removed at the end of its retention term
        months = round(settings.MSD_RETENTION_REPORT_DAYS / 30.44)
        return render(
            request, "reports/purged.html", {"report": report, "months": months}, status=410
        )
    return download_response(request, report)
