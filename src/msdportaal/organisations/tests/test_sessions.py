"""The gemeente one acts for belongs to the session, not to the person.

One person, logged in twice at the same time (two browsers: two test clients here, two
browser contexts in ``test_browser_sessions.py``), each time for another gemeente. What
was found: the second login silently switched the first session to the second gemeente
("U handelt namens" changed, its own reports gave 404).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.consent.tests.factories import CURRENT, report
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import Contact
from msdportaal.organisations.models import Municipality, User

from .test_login import dev_login

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("overview:index")
CHOOSE = reverse("organisations:choose")
REPORTS = reverse("reports:inbox")


def page(client: Client, url: str = OVERVIEW) -> str:
    response = client.get(url)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return response.content.decode()


def acting_banner(client: Client) -> str:
    html = page(client)
    start = html.index('<p class="msd-acting__text">')
    return html[start : html.index("</p>", start)]


def download(client: Client, report_pk: int) -> int:
    return client.get(reverse("reports:download", args=[report_pk])).status_code


@pytest.fixture
def amsterdam() -> Municipality:
    return Municipality.objects.get(code="0363")


@pytest.fixture
def utrecht() -> Municipality:
    return Municipality.objects.get(code="0344")


@pytest.fixture
def rotterdam() -> Municipality:
    return Municipality.objects.get(code="0599")


@pytest.fixture
def first() -> Client:
    """The person's first browser: logged in for Amsterdam, profile done."""
    client = Client()
    assert dev_login(client, "0363").status_code == 302
    User.objects.update(profile_completed_at=timezone.now())
    return client


@pytest.fixture
def second() -> Client:
    """A second browser of the same person (same e-mail address, so the same user)."""
    return Client()


def test_two_sessions_of_one_person_each_see_their_own_gemeente(
    first: Client, second: Client, amsterdam, utrecht
):
    assert "Overzicht Amsterdam" in page(first)

    assert dev_login(second, "0344").status_code == 302
    assert User.objects.count() == 1  # one person, two logins

    second_page = page(second)
    assert "Overzicht Utrecht" in second_page
    assert "<strong>Utrecht</strong>" in acting_banner(second)

    # The first session did not move: still Amsterdam, in the heading and in the banner.
    first_page = page(first)
    assert "Overzicht Amsterdam" in first_page
    assert "Overzicht Utrecht" not in first_page
    assert "<strong>Amsterdam</strong>" in acting_banner(first)
    assert "(GM0363)" in acting_banner(first)
    # Each login is for one gemeente: nothing to switch to in either.
    assert "Wissel van gemeente" not in first_page
    assert "Wissel van gemeente" not in second_page


def test_the_first_sessions_report_still_opens_after_a_login_for_another_gemeente(
    first: Client, second: Client, amsterdam, utrecht
):
    report_a = report(amsterdam, CURRENT, file_name="rapport-amsterdam.pdf")
    report_b = report(utrecht, CURRENT, file_name="rapport-utrecht.pdf")
    assert "rapport-amsterdam.pdf" in page(first, REPORTS)
    assert download(first, report_a.pk) == 200

    dev_login(second, "0344")

    # The first session's own links keep working (they gave 404 before).
    reports_first = page(first, REPORTS)
    assert "rapport-amsterdam.pdf" in reports_first
    assert "rapport-utrecht.pdf" not in reports_first
    assert download(first, report_a.pk) == 200
    # The second session has Utrecht's reports, not Amsterdam's.
    reports_second = page(second, REPORTS)
    assert "rapport-utrecht.pdf" in reports_second
    assert "rapport-amsterdam.pdf" not in reports_second
    assert download(second, report_b.pk) == 200
    assert download(second, report_a.pk) == 404

    # The audit trail puts each download on the gemeente of its own session.
    downloads = AuditEntry.objects.filter(action=AuditAction.DOWNLOAD).order_by("pk")
    assert [(e.object_id, e.municipality.code) for e in downloads] == [
        (str(report_a.pk), "0363"),
        (str(report_a.pk), "0363"),
        (str(report_b.pk), "0344"),
    ]


def test_the_first_session_cannot_reach_the_other_gemeentes_data(
    first: Client, second: Client, amsterdam, utrecht
):
    dev_login(second, "0344")
    report_b = report(utrecht, CURRENT, file_name="rapport-utrecht.pdf")
    (delivery_b,) = upload_and_confirm(second, csv_file(f"MSD_WMO-BASIS_0344_{CURRENT}.csv"))
    assert delivery_b.municipality == utrecht

    # Utrecht's report and delivery do not exist for the Amsterdam session.
    assert download(first, report_b.pk) == 404
    assert first.get(reverse("deliveries:detail", args=[delivery_b.reference])).status_code == 404
    assert delivery_b.reference not in page(first, reverse("deliveries:history"))

    # Choosing Utrecht in the Amsterdam session is refused; it stays Amsterdam.
    response = first.post(CHOOSE, {"municipality": utrecht.pk})
    assert response.status_code == 200
    assert "U mag niet handelen namens deze gemeente." in response.content.decode()
    assert "Overzicht Amsterdam" in page(first)
    assert not AuditEntry.objects.filter(
        action=AuditAction.MUNICIPALITY_CHOSEN, municipality=utrecht
    ).exists()

    # Uploading a file named for Utrecht in the Amsterdam session is refused.
    before = utrecht.deliveries.count()
    response = first.post(
        reverse("deliveries:upload"), {"files": [csv_file(f"MSD_WMO-KOSTEN_0344_{CURRENT}.csv")]}
    )
    assert response.status_code == 400
    assert utrecht.deliveries.count() == before


def test_an_intermediary_session_keeps_its_choice_and_its_own_list(
    second: Client, amsterdam, utrecht, rotterdam
):
    """An intermediary logged in for Amsterdam and Rotterdam chose Rotterdam; a later login
    of the same person for Utrecht alone changes nothing in that session."""
    intermediary = Client()
    dev_login(intermediary, "0363", extra="0599")
    User.objects.update(profile_completed_at=timezone.now())
    assert intermediary.get(OVERVIEW)["Location"].startswith(CHOOSE)
    intermediary.post(CHOOSE, {"municipality": rotterdam.pk})
    assert "Overzicht Rotterdam" in page(intermediary)
    assert "via Intermediair (ontwikkel-login)" in acting_banner(intermediary)

    dev_login(second, "0344")
    assert "Overzicht Utrecht" in page(second)
    assert "via" not in acting_banner(second)  # this login is Utrecht itself

    intermediary_page = page(intermediary)
    assert "Overzicht Rotterdam" in intermediary_page
    assert "Wissel van gemeente" in intermediary_page
    choices = page(intermediary, CHOOSE)
    assert "Amsterdam (GM0363)" in choices
    assert "Rotterdam (GM0599)" in choices
    assert "(GM0344)" not in choices  # Utrecht is the other login's
    assert intermediary.post(CHOOSE, {"municipality": utrecht.pk}).status_code == 200
    assert "Overzicht Rotterdam" in page(intermediary)
    intermediary.post(CHOOSE, {"municipality": amsterdam.pk})
    assert "Overzicht Amsterdam" in page(intermediary)

    # The second session lists no gemeente but its own, and cannot choose another.
    assert "(GM0599)" not in page(second, CHOOSE)
    assert second.post(CHOOSE, {"municipality": rotterdam.pk}).status_code == 200
    assert "Overzicht Utrecht" in page(second)

    # The audit trail: each choice on the gemeente chosen, each login with its gemeenten.
    chosen = AuditEntry.objects.filter(action=AuditAction.MUNICIPALITY_CHOSEN).order_by("pk")
    assert [e.municipality.code for e in chosen] == ["0599", "0363"]
    logins = AuditEntry.objects.filter(action=AuditAction.LOGIN).order_by("pk")
    assert [e.details["gemeenten"] for e in logins] == [["0363", "0599"], ["0344"]]


def test_a_new_login_in_the_same_browser_starts_afresh(amsterdam, utrecht, rotterdam):
    client = Client()
    dev_login(client, "0363", extra="0599")
    User.objects.update(profile_completed_at=timezone.now())
    client.post(CHOOSE, {"municipality": rotterdam.pk})
    assert "Overzicht Rotterdam" in page(client)

    dev_login(client, "0344")  # logs in again, for Utrecht only
    assert "Overzicht Utrecht" in page(client)
    assert client.post(CHOOSE, {"municipality": rotterdam.pk}).status_code == 200
    assert "Overzicht Utrecht" in page(client)


def test_uploads_in_two_sessions_are_delivered_for_their_own_gemeente(
    first: Client, second: Client, amsterdam, utrecht
):
    dev_login(second, "0344")
    (delivery_a,) = upload_and_confirm(first, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    (delivery_b,) = upload_and_confirm(second, csv_file(f"MSD_WMO-BASIS_0344_{CURRENT}.csv"))
    assert (delivery_a.municipality, delivery_b.municipality) == (amsterdam, utrecht)
    assert delivery_a.reference in page(first, reverse("deliveries:history"))
    assert delivery_b.reference in page(second, reverse("deliveries:history"))
    uploads = AuditEntry.objects.filter(action=AuditAction.UPLOAD).order_by("pk")
    assert [e.municipality.code for e in uploads] == ["0363", "0344"]


def test_logging_out_in_one_session_leaves_the_other_logged_in(
    first: Client, second: Client, utrecht
):
    dev_login(second, "0344")
    second.post(reverse("organisations:logout"))
    assert second.get(OVERVIEW)["Location"].startswith(reverse("organisations:login"))
    assert "Overzicht Amsterdam" in page(first)


def test_ib_taking_a_gemeente_away_ends_it_in_every_session_at_once(
    first: Client, second: Client, amsterdam, utrecht
):
    dev_login(second, "0344")
    user = User.objects.get()
    assert set(user.municipalities.all()) == {amsterdam, utrecht}

    user.municipalities.remove(amsterdam)  # what IB does in the admin

    response = first.get(OVERVIEW)
    assert response.status_code == 302
    assert response["Location"].startswith(CHOOSE)
    assert "(GM0363)" not in page(first, CHOOSE)
    assert "Overzicht Utrecht" in page(second)


def test_the_profile_makes_a_contact_for_the_gemeente_of_its_own_session(
    second: Client, amsterdam, utrecht
):
    """The first profile is filled in while an older session is open for another gemeente."""
    first = Client()
    dev_login(first, "0363")
    dev_login(second, "0344")
    response = second.post(
        reverse("organisations:profile"),
        {
            "first_name": "Fatima",
            "last_name": "de Vries",
            "email": "fatima@example.org",
            "phone": "020 123 45 67",
        },
    )
    assert response.status_code == 302
    assert [c.municipality for c in Contact.objects.filter(email="fatima@example.org")] == [utrecht]
    assert "Overzicht Amsterdam" in page(first)
