"""When the consent form is there, and what the gemeente reads when it is not."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from msdportaal.consent.models import ConsentForm
from msdportaal.consent.selectors import FormStatus, form_state, open_form_states
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import ReportingPeriod
from msdportaal.reports.models import ReportKind

from .factories import CURRENT, FORMS_URL, PREVIOUS, fill_in, form_data, report, submit

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 29)


def period(code: str) -> ReportingPeriod:
    return ReportingPeriod.objects.for_half_year(HalfYear.from_code(code))


def side(page: str, code: str) -> str:
    """The HTML of one side of the split screen."""
    match = re.search(
        rf'<section class="msd-panel"[^>]*data-period="{code}".*?</section>', page, re.S
    )
    assert match, f"no side for {code}"
    return match.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the rule (the selector other apps use) ---------------------------------------------


def test_no_op_orde_report_means_no_form(municipality_a):
    report(municipality_a, PREVIOUS, kind=ReportKind.ERROR)  # a foutrapport does not count
    report(municipality_a, "2025HJ01")  # nor does another period's
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.NO_REPORT
    assert not state.can_submit
    assert not state.needs_action


def test_an_op_orde_report_opens_the_form(municipality_a, municipality_b):
    found = report(municipality_a, PREVIOUS)
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.OPEN
    assert state.report == found
    assert state.can_submit
    assert state.needs_action
    # ...for that gemeente only
    assert form_state(municipality_b, period(PREVIOUS), TODAY).status == FormStatus.NO_REPORT


def test_before_consent_opens_there_is_no_form(municipality_a):
    report(municipality_a, CURRENT)
    current = period(CURRENT)
    current.consent_opens = datetime.date(2026, 12, 15)
    current.save()
    state = form_state(municipality_a, current, TODAY)
    assert state.status == FormStatus.NOT_YET_OPEN
    assert state.opens_on == datetime.date(2026, 12, 15)
    assert form_state(municipality_a, current, datetime.date(2026, 12, 15)).status == "open"


def test_the_default_opening_date_is_three_months_after_the_window(municipality_a):
    assert period(CURRENT).consent_opens == datetime.date(2026, 10, 1)
    assert period(PREVIOUS).consent_opens == datetime.date(2026, 4, 1)


def test_closed_older_and_future_periods(municipality_a):
    for code in ("2025HJ01", CURRENT, PREVIOUS, "2026HJ02"):
        report(municipality_a, code)
    assert form_state(municipality_a, period("2025HJ01"), TODAY).status == FormStatus.CLOSED
    assert form_state(municipality_a, period("2026HJ02"), TODAY).status == "not_yet_open"
    previous = period(PREVIOUS)
    previous.closed_at = timezone.now()
    previous.save()
    assert form_state(municipality_a, previous, TODAY).status == FormStatus.CLOSED


def test_the_split_screen_is_the_current_then_the_previous_period(municipality_a):
    states = open_form_states(municipality_a, TODAY)
    assert [s.period.code for s in states] == [CURRENT, PREVIOUS]


def test_submitted_then_a_correction_makes_it_required_again(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    first = submit(client_a, PREVIOUS)
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.SUBMITTED
    assert state.latest == first
    assert not state.needs_action

    # A delivery for the *current* period does not touch the previous period's consent.
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert form_state(municipality_a, period(PREVIOUS), TODAY).status == FormStatus.SUBMITTED

    (correction,) = upload_and_confirm(client_a, csv_file("MSD_KOSTEN-JW_0363_2025JJ00.csv"))
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.REQUIRED_AGAIN
    assert state.needs_action
    assert state.correction.delivery == correction
    assert state.latest == first
    # The corrected set waits for its own report: it cannot be answered yet.
    assert [s.data_set.code for s in state.answerable] == [
        "WMO_BASIS",
        "WMO_KOSTEN",
        "WMO_FACULTATIEF",
        "KOSTEN_SBO",
    ]

    second = submit(client_a, PREVIOUS, {"KOSTEN_JW": ""})
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.SUBMITTED
    assert state.latest == second

    # CBS finds the correction in order: that set now needs a decision too.
    report(municipality_a, PREVIOUS, delivery=correction)
    state = form_state(municipality_a, period(PREVIOUS), TODAY)
    assert state.status == FormStatus.REQUIRED_AGAIN
    assert state.correction is None
    assert [s.data_set.code for s in state.new_sets] == ["KOSTEN_JW"]
    third = submit(client_a, PREVIOUS)
    assert form_state(municipality_a, period(PREVIOUS), TODAY).status == FormStatus.SUBMITTED
    assert third.consents.count() == 5


# --- what the page says -----------------------------------------------------------------


def test_without_an_op_orde_report_the_page_explains_why_there_is_no_form(client_a: Client):
    response = client_a.get(FORMS_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Verslagperiode 2026, 1e halfjaar (2026HJ01)" in page
    assert "Verslagperiode 2025, 2e halfjaar (2025HJ02)" in page
    for code in (CURRENT, PREVIOUS):
        html = side(page, code)
        assert "<form" not in html
        assert (
            "U kunt voor deze periode nog geen toestemming geven: CBS heeft nog geen set van u "
            "op orde bevonden." in text(html)
        )
        # Per set, why not.
        assert "WMO basisset (" + code + "): niet aangeleverd voor deze periode." in text(html)
    assert "U heeft nog geen toestemming doorgegeven." in page


def test_only_the_period_with_an_op_orde_report_has_a_form(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    page = client_a.get(FORMS_URL).content.decode()
    assert "<form" not in side(page, CURRENT)
    previous = side(page, PREVIOUS)
    assert "<form" in previous
    # One ja/nee question per set of the period, with the question from the admin.
    assert previous.count('type="radio"') == 10
    assert "Geeft u CBS toestemming om de cijfers van uw gemeente over de Kosten SBO" in previous
    assert "Kosten SBO, periodecode 2025JJ00." in text(previous)
    # Prefilled from the profile.
    assert 'value="Fatima de Vries"' in previous
    assert 'value="medewerker-a@example.org"' in previous
    assert 'value="020 123 45 67"' in previous


def test_before_it_opens_the_page_says_when(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    current = period(CURRENT)
    current.consent_opens = datetime.date(2026, 12, 15)
    current.save()
    html = side(client_a.get(FORMS_URL).content.decode(), CURRENT)
    assert "<form" not in html
    assert "beschikbaar vanaf 15 december 2026" in text(html)


def test_after_a_correction_the_page_asks_again_and_says_why(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    first = submit(client_a, PREVIOUS, {"WMO_KOSTEN": "nee"})
    html = side(client_a.get(FORMS_URL).content.decode(), PREVIOUS)
    assert f"toestemming doorgegeven (referentienummer {first.reference})" in text(html)
    # The choice in force is filled in, ready to change.
    assert re.search(r'value="nee"[^>]*id="id_2025HJ02-set_WMO_KOSTEN_1"[^>]*checked', html)

    (correction,) = upload_and_confirm(client_a, csv_file("MSD_WMO-BASIS_0363_2025HJ02.csv"))
    html = side(client_a.get(FORMS_URL).content.decode(), PREVIOUS)
    words = text(html)
    assert "Vul dit formulier opnieuw in." in words
    assert f"een correctie aangeleverd (referentienummer {correction.reference})" in words
    assert f"na uw toestemming van 29 november 2026 (referentienummer {first.reference})" in words
    assert "CBS heeft nog geen nieuw rapport gestuurd over de correctie" in words
    assert "<form" in html
    assert "checked" not in html  # a fresh decision: nothing chosen in advance


def test_a_closed_period_refuses_a_post(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    previous = period(PREVIOUS)
    previous.closed_at = timezone.now()
    previous.save()
    response = client_a.post(FORMS_URL, form_data(PREVIOUS))
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "Verslagperiode 2025HJ02 is gesloten; toestemming geven kan niet meer." in page
    assert not ConsentForm.objects.exists()


def test_a_post_without_an_op_orde_report_is_refused(client_a: Client):
    response = client_a.post(FORMS_URL, form_data(CURRENT))
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "heeft CBS nog geen set van u op orde bevonden" in page
    assert not ConsentForm.objects.exists()


def test_a_post_for_a_period_that_is_not_on_the_page_is_refused(client_a: Client, municipality_a):
    report(municipality_a, "2025HJ01")
    data = {"periode": "2025HJ01", "2025HJ01-name": "x"}
    response = client_a.post(FORMS_URL, data)
    assert response.status_code == 302
    assert "hoort niet bij een open verslagperiode" in client_a.get(FORMS_URL).content.decode()
    assert not ConsentForm.objects.exists()


def test_missing_answers_and_bad_contact_details_get_dutch_messages(
    client_a: Client, municipality_a
):
    report(municipality_a, CURRENT)
    response = fill_in(
        client_a,
        CURRENT,
        {"WMO_KOSTEN": ""},
        name="",
        email="geen-adres",
        phone="bel me",
    )
    assert response.status_code == 400
    html = side(response.content.decode(), CURRENT)
    assert "Er is een probleem" in html
    assert "Kies ja of nee voor de WMO kostenset." in html
    assert 'href="#id_2026HJ01-set_WMO_KOSTEN_0"' in html  # the summary links to the question
    assert "Vul de naam in van degene die besluit." in html
    assert "Vul een geldig e-mailadres in, zoals naam@gemeente.nl." in html
    assert "Vul een geldig telefoonnummer in" in html
    # What was chosen stays chosen.
    assert re.search(r'value="ja"[^>]*id="id_2026HJ01-set_WMO_BASIS_0"[^>]*checked', html)
    assert not ConsentForm.objects.exists()


def test_a_name_with_a_line_break_is_refused(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    response = fill_in(client_a, CURRENT, name="Fatima\nde Vries")
    assert response.status_code == 400
    assert "zonder regeleinden" in response.content.decode()


def test_the_report_to_decide_on_is_linked_per_set(client_a: Client, municipality_a):
    found = report(municipality_a, PREVIOUS, file_name="op-orde-2025HJ02.pdf")
    html = side(client_a.get(FORMS_URL).content.decode(), PREVIOUS)
    assert html.count(f'href="/rapporten/{found.pk}/download/"') == 5
    assert "op-orde-2025HJ02.pdf" in html
    assert client_a.get(f"/rapporten/{found.pk}/download/").status_code == 200


def test_changing_the_answers_from_the_check_page_brings_them_back(
    client_a: Client, municipality_a
):
    report(municipality_a, CURRENT)
    response = fill_in(client_a, CURRENT, {"WMO_FACULTATIEF": "nee"}, phone="06 12345678")
    draft = ConsentForm.objects.get()
    check = client_a.get(response["Location"]).content.decode()
    change_url = f"{FORMS_URL}?concept={draft.pk}#periode-{CURRENT}"
    assert change_url.replace("&", "&amp;") in check
    html = side(client_a.get(f"{FORMS_URL}?concept={draft.pk}").content.decode(), CURRENT)
    assert re.search(r'value="nee"[^>]*id="id_2026HJ01-set_WMO_FACULTATIEF_1"[^>]*checked', html)
    assert 'value="06 12345678"' in html
    assert client_a.get(f"{FORMS_URL}?concept=niet-een-uuid").status_code == 404


def test_a_later_change_is_a_new_complete_submission(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    first = submit(client_a, CURRENT)
    second = submit(client_a, CURRENT, {"WMO_BASIS": "nee"})
    assert first.reference != second.reference
    assert second.outbound_message != first.outbound_message
    assert [c.conclusion for c in second.consents.all()] == ["nee", "ja", "ja"]
    history = client_a.get(FORMS_URL).content.decode()
    assert history.index(second.reference) < history.index(first.reference)  # newest first
