"""The receipt of a confirmed upload: a page to print and a PDF to keep.

Both show the same facts (``deliveries/includes/receipt.html``): for which gemeente, who
confirmed and when, and per file its reference, name, size, SHA-256 and the moment it
arrived; for a ZIP each CSV's reference. Facts that never change after the confirmation,
so the receipt made today is the receipt made next year (only "opgesteld op" differs).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from msdportaal.core.pdf import render_pdf

from .models import UploadBatch


def receipt_context(batch: UploadBatch) -> dict[str, Any]:
    deliveries = list(batch.deliveries.order_by("reference").prefetch_related("files__data_set"))
    return {
        "batch": batch,
        "deliveries": deliveries,
        "municipality": batch.municipality,
        "confirmed_by": deliveries[0].uploaded_by_name if deliveries else "",
        "issued_at": timezone.now(),
    }


def receipt_filename(context: dict[str, Any]) -> str:
    reference = context["deliveries"][0].reference if context["deliveries"] else "aanlevering"
    return f"ontvangstbewijs-{context['municipality'].gm_code}-{reference}.pdf"


def receipt_pdf(batch: UploadBatch) -> tuple[bytes, str]:
    context = receipt_context(batch)
    return render_pdf("deliveries/receipt_pdf.html", context), receipt_filename(context)
