"""IB's view: who decided what per period, who has not decided yet; metadata only."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.consent.models import ConsentForm
from msdportaal.consent.selectors import FormStatus, period_overview
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.periods.models import ReportingPeriod

from .factories import CURRENT, PREVIOUS, fill_in, report, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def ib(admin_user) -> Client:
    client = Client()  # not the ``client`` fixture: client_a is that one
    TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    client.force_login(admin_user)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.get().persistent_id
    session.save()
    return client


def row(page: str, code: str) -> str:
    match = re.search(rf'<tr data-municipality="{code}".*?</tr>', page, re.S)
    assert match, code
    return match.group(0)


@pytest.fixture
def decisions(client_a: Client, municipality_a, municipality_b) -> ConsentForm:
    report(municipality_a, PREVIOUS)
    report(municipality_b, PREVIOUS)
    report(Municipality.objects.get(code="0599"), PREVIOUS)
    report(municipality_a, CURRENT)
    form = submit(client_a, PREVIOUS, {"KOSTEN_JW": "nee"})
    fill_in(client_a, CURRENT)  # a draft: not a decision
    return form


def test_the_overview_lists_who_decided_and_who_did_not(ib: Client, decisions, client_a):
    upload_and_confirm(client_a, csv_file("MSD_WMO-BASIS_0363_2025HJ02.csv"))  # a correction
    overview = period_overview(ReportingPeriod.objects.get(code=PREVIOUS))
    by_code = {r.municipality.code: r for r in overview}
    assert len(overview) == Municipality.objects.active().count()
    assert by_code["0363"].status == FormStatus.REQUIRED_AGAIN
    assert by_code["0363"].latest == decisions
    assert by_code["0344"].status == FormStatus.OPEN
    assert by_code["0599"].status == FormStatus.OPEN
    assert by_code["0014"].status == FormStatus.NO_REPORT

    page = ib.get("/beheer/consent/consentform/overzicht/?periode=2025HJ02").content.decode()
    assert 'data-count="open">2<' in page
    assert 'data-count="required_again">1<' in page
    amsterdam = row(page, "0363")
    assert "Opnieuw nodig (correctie na toestemming)" in amsterdam
    assert decisions.reference in amsterdam
    assert "Kosten jeugdwet: nee" in amsterdam
    assert "Nog geen besluit" in row(page, "0344")
    assert "Nog geen op-orde-rapport" in row(page, "0014")
    # The ones that still have to act come first.
    assert page.index('data-municipality="0344"') < page.index('data-municipality="0014"')

    pending = ib.get("/beheer/consent/consentform/overzicht/?periode=2025HJ02&status=open")
    codes = re.findall(r'data-municipality="(\d{4})"', pending.content.decode())
    assert codes == ["0599", "0344"]  # Rotterdam, Utrecht: by name


def test_the_overview_defaults_to_the_current_period(ib: Client, decisions):
    page = ib.get("/beheer/consent/consentform/overzicht/").content.decode()
    assert "Verslagperiode 2026, 1e halfjaar (2026HJ01)" in page
    assert "Nog geen besluit" in row(page, "0363")  # a draft is no decision
    assert "Nog geen op-orde-rapport" in row(page, "0344")


def test_the_changelist_shows_decisions_not_drafts_and_no_way_to_the_file(ib: Client, decisions):
    changelist = ib.get("/beheer/consent/consentform/").content.decode()
    assert decisions.reference in changelist
    assert "Overzicht per periode" in changelist
    assert ConsentForm.objects.drafts().count() == 1
    assert "1 toestemmingsformulier" in changelist
    detail = ib.get(f"/beheer/consent/consentform/{decisions.pk}/change/").content.decode()
    assert decisions.sha256 in detail
    assert decisions.file_name in detail
    assert decisions.stored_name not in detail
    assert "Opslaan" not in detail  # read-only
    assert "Kosten jeugdwet" in detail


def test_the_overview_needs_admin_rights(client_a: Client):
    response = client_a.get("/beheer/consent/consentform/overzicht/")
    assert response.status_code == 302
    assert "/beheer/login/" in response["Location"]
