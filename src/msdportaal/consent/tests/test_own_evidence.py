"""Consent per set rests on that set's own report: never on another set's, never on none."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from msdportaal.consent.models import ConsentForm
from msdportaal.deliveries.tests.factories import csv_bytes, csv_file, zip_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.reports.models import ReportKind

from .factories import CURRENT, FORMS_URL, fill_in, form_data, report

pytestmark = pytest.mark.django_db


def side(page: str, code: str) -> str:
    match = re.search(
        rf'<section class="msd-panel"[^>]*data-period="{code}".*?</section>', page, re.S
    )
    assert match, f"no side for {code}"
    return match.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def mixed(client_a: Client, municipality_a):
    """WMO basisset op orde, WMO kostenset afgekeurd, WMO facultatieve set not delivered."""
    basis, kosten = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    in_order = report(municipality_a, CURRENT, delivery=basis, file_name="basis-op-orde.pdf")
    error = report(
        municipality_a,
        CURRENT,
        delivery=kosten,
        kind=ReportKind.ERROR,
        file_name="kosten-fout.pdf",
    )
    return in_order, error


def test_only_a_set_with_its_own_op_orde_report_is_asked(client_a: Client, mixed):
    in_order, error = mixed
    html = side(client_a.get(FORMS_URL).content.decode(), CURRENT)
    assert "<form" in html
    assert html.count('type="radio"') == 2  # ja/nee for the WMO basisset only
    assert 'name="2026HJ01-set_WMO_BASIS"' in html
    assert 'name="2026HJ01-set_WMO_KOSTEN"' not in html
    assert 'name="2026HJ01-set_WMO_FACULTATIEF"' not in html
    words = text(html)
    assert "CBS heeft 1 set van u voor deze periode op orde bevonden." in words
    assert "WMO kostenset (2026HJ01): afgekeurd door CBS: lever het bestand opnieuw aan." in words
    assert "WMO facultatieve set (2026HJ01): niet aangeleverd voor deze periode." in words
    # The report beside each set is that set's own.
    assert html.count(f'href="/rapporten/{in_order.pk}/download/"') == 1
    assert f'href="/rapporten/#rapport-{error.pk}"' in html
    assert "basis-op-orde.pdf" in html


def test_a_post_for_a_set_that_may_not_be_answered_is_refused(client_a: Client, mixed):
    for blocked in ("WMO_KOSTEN", "WMO_FACULTATIEF"):
        response = fill_in(
            client_a, CURRENT, {"WMO_KOSTEN": "", "WMO_FACULTATIEF": "", blocked: "ja"}
        )
        assert response.status_code == 400
        words = text(side(response.content.decode(), CURRENT))
        assert "Er is een probleem" in words
        assert "geen toestemming geven" in words
        assert "Geef alleen antwoord voor de sets die CBS op orde heeft bevonden." in words
    assert not ConsentForm.objects.exists()

    response = fill_in(client_a, CURRENT, {"WMO_KOSTEN": "", "WMO_FACULTATIEF": ""})
    assert response.status_code == 302
    draft = ConsentForm.objects.get()
    assert [c.data_set.code for c in draft.consents.all()] == ["WMO_BASIS"]


def test_a_set_rejected_between_draft_and_confirm_is_refused(
    client_a: Client, municipality_a, mixed
):
    response = fill_in(client_a, CURRENT, {"WMO_KOSTEN": "", "WMO_FACULTATIEF": ""})
    check_url = response["Location"]
    basis = ConsentForm.objects.get().consents.get().data_set
    from msdportaal.deliveries.models import DeliveredFile

    file = DeliveredFile.objects.get(data_set=basis, period_code=CURRENT)
    report(municipality_a, CURRENT, file=file, kind=ReportKind.ERROR)
    response = client_a.post(check_url, {"confirm": "1"})
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "geen toestemming geven" in page
    assert not ConsentForm.objects.submitted().exists()


def test_another_sets_op_orde_report_does_not_count(client_a: Client, municipality_a):
    """The bug this rests on: consent asked for a set never delivered, beside another set's
    report, and "ja" accepted for a set whose latest report is a foutrapport."""
    names = [f"MSD_WMO-{s}_0363_{CURRENT}.csv" for s in ("BASIS", "KOSTEN")]
    (delivery,) = upload_and_confirm(
        client_a, zip_file("wmo.zip", {name: csv_bytes() for name in names})
    )
    report(municipality_a, CURRENT, delivery=delivery)  # the whole ZIP op orde
    report(municipality_a, CURRENT, file=delivery.files.get(position=2), kind=ReportKind.ERROR)
    html = side(client_a.get(FORMS_URL).content.decode(), CURRENT)
    assert 'name="2026HJ01-set_WMO_BASIS"' in html
    assert 'name="2026HJ01-set_WMO_KOSTEN"' not in html  # its latest report is a foutrapport
    assert 'name="2026HJ01-set_WMO_FACULTATIEF"' not in html  # never delivered
    response = client_a.post(FORMS_URL, form_data(CURRENT))  # "ja" for all three
    assert response.status_code == 400
    assert not ConsentForm.objects.exists()
