"""Test data for consent: CBS reports straight into the database, and filling in forms."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from msdportaal.consent.models import ConsentForm
from msdportaal.core.references import allocate_reference
from msdportaal.deliveries.models import DeliveredFile, Delivery, FileKind, UploadBatch
from msdportaal.organisations.models import Municipality, User
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DataSet, ReportingPeriod
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


def delivered(municipality: Municipality, period_code: str) -> list[DeliveredFile]:
    """The gemeente's CSVs in force for the period; when it has none, first one ZIP-like
    delivery (straight into the database) holding every set of the period."""
    period = ReportingPeriod.objects.for_half_year(HalfYear.from_code(period_code))
    files = []
    missing = []
    for data_set in DataSet.objects.all():
        code = data_set.period_code(period.half_year)
        if code is None:
            continue
        current = (
            DeliveredFile.objects.filter(
                municipality=municipality,
                data_set=data_set,
                period_code=code,
                replaced_by__isnull=True,
            )
            .order_by("-delivery__uploaded_at", "-pk")
            .first()
        )
        if current is not None:
            files.append(current)
        else:
            missing.append((data_set, code))
    if missing and not files:
        now = timezone.now()
        # Anyone may stand for the uploader; a test that counts users must not see one more.
        user = User.objects.filter(municipalities=municipality).first() or User.objects.first()
        if user is None:
            user = User.objects.create(
                username=f"cbs-test-{municipality.code}",
                identity_pseudonym=f"cbs-test-{municipality.code}",
            )
        batch = UploadBatch.objects.create(
            municipality=municipality, uploaded_by=user, confirmed_at=now
        )
        # Not in today's series: a test that counts references must not see this one.
        reference = allocate_reference(datetime.datetime(1999, 1, 1, tzinfo=datetime.UTC), "test")
        # A real delivery always has its file: an inventory or retention run must find it.
        content = f"testaanlevering {reference}".encode()
        stored_name = default_storage.save(f"deliveries/test/{reference}.zip", ContentFile(content))
        delivery = Delivery.objects.create(
            reference=reference,
            municipality=municipality,
            batch=batch,
            kind=FileKind.ZIP,
            file_name=f"MSD_{municipality.code}_{period_code}.zip",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            stored_name=stored_name,
            uploaded_by=user,
            uploaded_by_name="Testgebruiker",
            uploaded_at=now,
        )
        for position, (data_set, code) in enumerate(missing, start=1):
            files.append(
                DeliveredFile.objects.create(
                    delivery=delivery,
                    reference=f"{reference}-{position}",
                    position=position,
                    file_name=f"MSD_{data_set.file_name_token}_{municipality.code}_{code}.csv",
                    size=100,
                    municipality=municipality,
                    data_set=data_set,
                    period_code=code,
                    reporting_period=period,
                )
            )
    return files


def report(
    municipality: Municipality,
    period_code: str,
    *,
    kind: ReportKind = ReportKind.IN_ORDER,
    file_name: str = "rapport-op-orde.pdf",
    delivery: Delivery | None = None,
    file: DeliveredFile | None = None,
) -> Report:
    """A CBS report as the inbound endpoint stores it (without going through RINIS).

    About ``file`` (one CSV), or ``delivery`` (all its CSVs); with neither, about every
    delivery in force for the period, after delivering all its sets if the gemeente has
    delivered nothing for it yet (:func:`delivered`). Returns the last report made.
    """
    if file is not None or delivery is not None:
        targets = [(file.delivery if file is not None else delivery, file)]
    else:
        deliveries = {f.delivery_id: f.delivery for f in delivered(municipality, period_code)}
        targets = [(d, None) for d in deliveries.values()]
    reports = [_stored_report(municipality, period_code, kind, file_name, d, f) for d, f in targets]
    return reports[-1]


def _stored_report(
    municipality: Municipality,
    period_code: str,
    kind: ReportKind,
    file_name: str,
    delivery: Delivery | None,
    file: DeliveredFile | None,
) -> Report:
    functie = {"op_orde": "MSDOPORDE", "foutrapport": "MSDFOUTRAPPORT"}.get(kind, "MSDRAPPORT")
    received = ReceivedMessage.objects.create(
        zender_organisatie="CBS",
        referentienummer=str(uuid.uuid4()),
        fingerprint=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        berichtcode="Du01",
        functie=functie,
        municipality=municipality,
        bestandsnaam=file_name,
        cross_refnummer_bericht=file.reference if file is not None else "",
        answer_referentienummer=str(uuid.uuid4()),
        answer_tijdstip="20261129100000000",
    )
    stored_name = default_storage.save(f"reports/test/{uuid.uuid4().hex}", ContentFile(SAMPLE_PDF))
    return Report.objects.create(
        municipality=municipality,
        kind=kind,
        functie=functie,
        delivery=delivery,
        delivered_file=file,
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
