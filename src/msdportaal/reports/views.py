from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.core.storage import open_stored
from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import (
    for_acting_municipality,
    get_for_acting_municipality_or_404,
)

from .models import Report
from .services import mark_read


@acting_municipality_required
def inbox(request: HttpRequest) -> HttpResponse:
    reports = for_acting_municipality(Report.objects.select_related("delivery"), request)
    return render(request, "reports/inbox.html", {"reports": reports})


@acting_municipality_required
def download(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_for_acting_municipality_or_404(Report.objects.all(), request, pk=pk)
    if report.purged_at is not None:  # removed at the end of its retention term
        months = round(settings.MSD_RETENTION_REPORT_DAYS / 30.44)
        return render(
            request, "reports/purged.html", {"report": report, "months": months}, status=410
        )
    record(
        AuditAction.DOWNLOAD,
        request=request,
        target=report,
        message=f"rapport {report.file_name}",
        sha256=report.sha256,
    )
    mark_read(report)
    response = FileResponse(
        open_stored(report.stored_name),
        as_attachment=True,
        filename=report.file_name,
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
