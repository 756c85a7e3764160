"""The receipt of a submitted consent form: a page to print and a PDF to keep (the same
facts, ``consent/includes/receipt.html``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from msdportaal.core.pdf import render_pdf

from .models import ConsentForm


def receipt_context(form: ConsentForm) -> dict[str, Any]:
    return {
        "form": form,
        "consents": list(form.consents.select_related("data_set").order_by("position")),
        "municipality": form.municipality,
        "issued_at": timezone.now(),
    }


def receipt_pdf(form: ConsentForm) -> tuple[bytes, str]:
    body = render_pdf("consent/receipt_pdf.html", receipt_context(form))
    return body, f"ontvangstbewijs-toestemming-{form.municipality.gm_code}-{form.reference}.pdf"
