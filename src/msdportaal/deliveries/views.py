from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from msdportaal.core.pdf import pdf_response
from msdportaal.core.sessions import mark_committed
from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import get_for_acting_municipality_or_404
from msdportaal.periods.models import DataSet
from msdportaal.periods.services import deadline_warnings, open_half_years

from . import outcomes, receipts, selectors, services
from .models import UploadBatch
from .naming import NameRefused
from .uploads import receives_uploads


def _upload_context(request: HttpRequest, **extra: object) -> dict[str, object]:
    current, previous = open_half_years()
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    data_sets = list(DataSet.objects.all())
    examples = [
        ds.example_file_name(municipality.code, hy)
        for hy in (current, previous)
        for ds in data_sets
        if ds.period_code(hy)
    ]
    return {
        "current": current,
        "previous": previous,
        "examples": examples,
        "max_mb": f"{settings.MSD_UPLOAD_MAX_BYTES / 1_000_000:g}",
        "tus_chunk_bytes": settings.MSD_TUS_CHUNK_MB * 1024 * 1024,
        "deadline_warnings": deadline_warnings(municipality),
        **extra,
    }


@receives_uploads
@acting_municipality_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "deliveries/upload.html", _upload_context(request))
    failure = getattr(request, "upload_failure", None)
    if failure is not None:
        return render(
            request,
            "deliveries/upload.html",
            _upload_context(request, error=services.body_refused(request, failure)),
            status=400,
        )
    dropped = [
        (reason, name)
        for reason, name in getattr(request, "upload_refusals", [])
        if reason in ("too_large", "name_changed")
    ]
    return respond_to_upload(request, request.FILES.getlist("files"), dropped)


def respond_to_upload(
    request: HttpRequest, uploads: list[Any], dropped: list[tuple[str, str]]
) -> HttpResponse:
    """Checks the files and answers as the upload page does: to the check page, or the
    page again with what was refused. Also the end of a resumable upload from this page
    (``msdportaal.api.web``), so both ways of sending have one set of rules."""
    if not uploads and not dropped:
        return render(
            request,
            "deliveries/upload.html",
            _upload_context(request, error=_("Kies een of meer bestanden om aan te leveren.")),
            status=400,
        )
    result = services.stage_upload(request, uploads, dropped)
    if result.batch is None:
        return render(
            request,
            "deliveries/upload.html",
            _upload_context(request, refusals=result.refusals),
            status=400,
        )
    if result.refusals:
        # Only then: an empty list would cost a session write on every upload (and another
        # when confirming pops it); the check page reads a missing key as "none refused".
        request.session[f"refusals-{result.batch.pk}"] = [
            {"file_name": r.file_name, "message": r.message} for r in result.refusals
        ]
    return redirect("deliveries:check", batch_id=result.batch.pk)


def _batch(request: HttpRequest, batch_id: str) -> UploadBatch:
    return get_for_acting_municipality_or_404(UploadBatch.objects.all(), request, pk=batch_id)


@acting_municipality_required
@require_http_methods(["GET", "POST"])
def check(request: HttpRequest, batch_id: str) -> HttpResponse:
    try:
        batch = _batch(request, batch_id)
    except Http404:
        # Cancelled or expired (or never this gemeente's: the same page, so nothing leaks).
        return render(request, "deliveries/batch_gone.html", status=404)
    if batch.confirmed_at is not None:
        # A double submit, the back button, a retried request: the same confirmation.
        mark_committed(request)
        return redirect("deliveries:confirmation", batch_id=batch.pk)
    if request.method == "POST":
        if "cancel" in request.POST:
            request.session.pop(f"refusals-{batch.pk}", None)
            if not services.discard_batch(batch):
                messages.info(
                    request, _("Deze aanlevering was al bevestigd; annuleren kan niet meer.")
                )
                mark_committed(request)
                return redirect("deliveries:confirmation", batch_id=batch.pk)
            mark_committed(request)
            messages.info(request, _("De aanlevering is geannuleerd; er is niets doorgestuurd."))
            return redirect("deliveries:upload")
        try:
            services.confirm_batch(request, batch)
        except services.BatchGone:
            return render(request, "deliveries/batch_gone.html", status=404)
        except NameRefused as refusal:
            messages.error(request, refusal.message)
            return redirect("deliveries:check", batch_id=batch.pk)
        # Committed: from here on nothing may turn the answer into an error. The
        # confirmation page is found from the database alone (the batch in its URL).
        mark_committed(request)
        request.session.pop(f"refusals-{batch.pk}", None)
        return redirect("deliveries:confirmation", batch_id=batch.pk)
    return render(
        request,
        "deliveries/check.html",
        {
            "batch": batch,
            "files": selectors.staged_files(batch),
            "refusals": request.session.get(f"refusals-{batch.pk}", []),
        },
    )


@acting_municipality_required
def confirmation(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(request, batch_id)
    if batch.confirmed_at is None:
        return redirect("deliveries:check", batch_id=batch.pk)
    mark_committed(request)  # what it shows is committed: a session hiccup must not hide it
    deliveries = batch.deliveries.order_by("reference").prefetch_related("files__data_set")
    return render(
        request, "deliveries/confirmation.html", {"batch": batch, "deliveries": deliveries}
    )


def _confirmed_batch(request: HttpRequest, batch_id: str) -> UploadBatch:
    return get_for_acting_municipality_or_404(
        UploadBatch.objects.filter(confirmed_at__isnull=False).select_related("municipality"),
        request,
        pk=batch_id,
    )


@acting_municipality_required
@require_safe
def receipt(request: HttpRequest, batch_id: str) -> HttpResponse:
    """The receipt to print (print styles in portal.css)."""
    batch = _confirmed_batch(request, batch_id)
    return render(request, "deliveries/receipt.html", receipts.receipt_context(batch))


@acting_municipality_required
@require_safe
def receipt_pdf(request: HttpRequest, batch_id: str) -> HttpResponse:
    body, filename = receipts.receipt_pdf(_confirmed_batch(request, batch_id))
    return pdf_response(body, filename)


@acting_municipality_required
def history(request: HttpRequest) -> HttpResponse:
    periods = selectors.periods_with_deliveries(request)
    selected = request.GET.get("periode") or ""
    if selected and selected not in periods:
        selected = ""
    files = list(selectors.delivered_files(request, selected or None))
    verdicts = outcomes.outcomes(files)
    return render(
        request,
        "deliveries/history.html",
        {
            "files": [(file, verdicts.get(file.pk)) for file in files],
            "periods": periods,
            "selected": selected,
        },
    )


@acting_municipality_required
def detail(request: HttpRequest, reference: str) -> HttpResponse:
    delivery = get_for_acting_municipality_or_404(
        selectors.deliveries(request).prefetch_related(
            "files__data_set", "files__replaced_by", "files__reporting_period"
        ),
        request,
        reference=reference,
    )
    files = list(delivery.files.all())
    verdicts = outcomes.outcomes(files)
    return render(
        request,
        "deliveries/detail.html",
        {
            "delivery": delivery,
            "files": [(file, verdicts.get(file.pk)) for file in files],
            "rejected": [
                v for v in verdicts.values() if v.is_rejected and v.file.replacement is None
            ],
            "identical_to": selectors.identical_predecessor(delivery),
        },
    )
