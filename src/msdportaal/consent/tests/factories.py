"""Test data for consent: CBS reports straight into the database, and filling in forms."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from msdportaal.consent.models import ConsentForm
from msdportaal.organisations.models import Municipality
from msdportaal.reports.models import Report, ReportKind
from msdportaal.reports.tests.helpers import SAMPLE_PDF
from msdportaal.transport.models import ReceivedMessage

CURRENT = "2026HJ01"  # on 2026-11-29 (DESIGN.md §3.4)
PREVIOUS = "2025HJ02"
FORMS_URL = "/toestemming/"
#: The sets asked per period, in order: the yearly cost sets only in the HJ02 period.
SETS = {
    CURRENT: ["WMO_BASIS", "WMO_KOSTEN", "WMO_FACULTATIEF"],
    PREVIOUS: ["WMO_BASIS", "WMO_KOSTEN", "WMO_FACULTATIEF", "KOSTEN_JW", "KOSTEN_SBO"],
}


def report(
    municipality: Municipality,
    period_code: str,
    *,
    kind: ReportKind = ReportKind.IN_ORDER,
    file_name: str = "rapport-op-orde.pdf",
) -> Report:
    """A CBS report as the inbound endpoint stores it (without going through RINIS)."""
    functie = {"op_orde": "MSDOPORDE", "foutrapport": "MSDFOUTRAPPORT"}.get(kind, "MSDRAPPORT")
    received = ReceivedMessage.objects.create(
        zender_organisatie="CBS",
        referentienummer=str(uuid.uuid4()),
        fingerprint=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        berichtcode="Di01",
        functie=functie,
        municipality=municipality,
        bestandsnaam=file_name,
        answer_referentienummer=str(uuid.uuid4()),
        answer_tijdstip="20261129100000000",
    )
    stored_name = default_storage.save(f"reports/test/{uuid.uuid4().hex}", ContentFile(SAMPLE_PDF))
    return Report.objects.create(
        municipality=municipality,
        kind=kind,
        functie=functie,
        period_code=period_code,
        file_name=file_name,
        content_type="application/pdf",
        size=len(SAMPLE_PDF),
        sha256=hashlib.sha256(SAMPLE_PDF).hexdigest(),
        stored_name=stored_name,
        received=received,
    )


def form_data(
    period_code: str,
    answers: dict[str, str] | None = None,
    **contact: str,
) -> dict[str, str]:
    """The POST of one side of the split screen; every set "ja" unless ``answers`` says."""
    answers = {code: "ja" for code in SETS[period_code]} | (answers or {})
    data = {"periode": period_code}
    data.update({f"{period_code}-set_{code}": value for code, value in answers.items() if value})
    contact = {
        "name": "Fatima de Vries",
        "email": "medewerker-a@example.org",
        "phone": "020 123 45 67",
    } | contact
    data.update({f"{period_code}-{key}": value for key, value in contact.items()})
    return data


def fill_in(
    client: Client, period_code: str, answers: dict[str, str] | None = None, **contact: Any
):
    """Posts one side; returns the response (302 to the check page when valid)."""
    return client.post(FORMS_URL, form_data(period_code, answers, **contact))


def submit(
    client: Client, period_code: str, answers: dict[str, str] | None = None, **contact: Any
) -> ConsentForm:
    """Fills in, checks and confirms: the submitted form."""
    response = fill_in(client, period_code, answers, **contact)
    assert response.status_code == 302, response.content.decode()[:3000]
    check_url = response["Location"]
    response = client.post(check_url, {"confirm": "1"})
    assert response.status_code == 302, response.content.decode()[:3000]
    form = ConsentForm.objects.get(pk=check_url.split("/")[2])
    assert response["Location"] == reverse("consent:confirmation", args=[form.pk])
    return form
