"""A year of the calendar, day by day: the right notifications, to the right people, once."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import (
    Contact,
    EmailLedger,
    Event,
    Notification,
    NotificationSettings,
)
from msdportaal.notifications.outbox import sweep_stored_emails
from msdportaal.notifications.schedule import run_daily
from msdportaal.organisations.models import Municipality
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DeadlineExtension, ReportingPeriod

pytestmark = pytest.mark.django_db
ALL_EVENTS = [e.value for e in Event if e != Event.IB_DIGEST]


def run_daily_and_send() -> None:
    """Beat's hourly run, then what the e-mail task (or the sweeper) does with its e-mails."""
    run_daily()
    sweep_stored_emails()


def contact(municipality: Municipality, email: str, events: list[str] | None = None) -> Contact:
    return Contact.objects.create(
        municipality=municipality,
        name=email.split("@")[0],
        email=email,
        events=ALL_EVENTS if events is None else events,
    )


def days(start: datetime.date, end: datetime.date):
    day = start
    while day <= end:
        yield day
        day += datetime.timedelta(days=1)


@pytest.fixture
def two_gemeenten(municipality_a, municipality_b):
    contact(municipality_a, "anna@amsterdam.example")
    contact(municipality_b, "bert@utrecht.example")
    contact(municipality_b, "alleen-rapporten@utrecht.example", [Event.REPORT])
    return municipality_a, municipality_b


def deliver_everything_for(client: Client, code: str, period: str, yearly: str | None) -> None:
    names = [f"MSD_WMO-{s}_{code}_{period}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    if yearly:
        names += [f"MSD_KOSTEN-{s}_{code}_{yearly}.csv" for s in ("JW", "SBO")]
    upload_and_confirm(client, *[csv_file(n) for n in names])


def test_a_year_of_notifications(two_gemeenten, client_a, user_a, fixed_today, mailbox):
    amsterdam, _utrecht = two_gemeenten
    # Amsterdam delivers all of 2026HJ02 in time (window 2027-01-01 .. 2027-03-31); Utrecht not.
    fixed_today.move_to("2027-01-10T10:00:00+01:00")
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)  # a new session on that day
    deliver_everything_for(client_a, "0363", "2026HJ02", "2026JJ00")
    sweep_stored_emails()  # the receipt
    mailbox.clear()

    sent_on: dict[datetime.date, list[tuple[str, str]]] = {}
    for day in days(datetime.date(2026, 12, 1), datetime.date(2027, 11, 30)):
        fixed_today.move_to(
            datetime.datetime(
                day.year,
                day.month,
                day.day,
                7,
                0,
                tzinfo=datetime.timezone(datetime.timedelta(hours=1)),
            )
        )
        before = len(mailbox.messages)
        run_daily_and_send()
        run_daily_and_send()  # beat firing twice changes nothing
        new = mailbox.messages[before:]
        if new:
            sent_on[day] = sorted((m["To"], m["Subject"]) for m in new)

    window = "Aanleveren voor {} kan vanaf vandaag"
    assert sent_on[datetime.date(2027, 1, 1)] == sorted(
        [
            ("anna@amsterdam.example", f"MSD Portaal: {window.format('2026HJ02')}"),
            ("bert@utrecht.example", f"MSD Portaal: {window.format('2026HJ02')}"),
        ]
    )
    assert sent_on[datetime.date(2027, 7, 1)] == sorted(
        [
            ("anna@amsterdam.example", f"MSD Portaal: {window.format('2027HJ01')}"),
            ("bert@utrecht.example", f"MSD Portaal: {window.format('2027HJ01')}"),
        ]
    )
    # Reminders for 2026HJ02 (deadline 31 March 2027): only Utrecht, which is missing sets.
    for day, left in (
        (datetime.date(2027, 3, 17), 14),
        (datetime.date(2027, 3, 24), 7),
        (datetime.date(2027, 3, 30), 1),
    ):
        assert sent_on[day] == [
            (
                "bert@utrecht.example",
                f"MSD Portaal: Nog {left} dag(en) tot de deadline van 2026HJ02",
            )
        ]
    # And for 2027HJ01 (deadline 30 September 2027): both are missing everything.
    for day in (datetime.date(2027, 9, 16), datetime.date(2027, 9, 23), datetime.date(2027, 9, 29)):
        assert {to for to, _subject in sent_on[day]} == {
            "anna@amsterdam.example",
            "bert@utrecht.example",
        }
    assert set(sent_on) == {
        datetime.date(2027, 1, 1),
        datetime.date(2027, 3, 17),
        datetime.date(2027, 3, 24),
        datetime.date(2027, 3, 30),
        datetime.date(2027, 7, 1),
        datetime.date(2027, 9, 16),
        datetime.date(2027, 9, 23),
        datetime.date(2027, 9, 29),
    }
    # Each e-mail exactly once; the contact who only wants reports got none of these.
    assert not [
        k for k, n in Counter(EmailLedger.objects.values_list("key", "recipient")).items() if n > 1
    ]
    assert not EmailLedger.objects.filter(recipient="alleen-rapporten@utrecht.example").exists()
    # The portal messages: one per gemeente per event; every active gemeente hears that a
    # window opens, with or without contacts.
    assert (
        Notification.objects.filter(key="window:2027HJ01").count()
        == Municipality.objects.active().count()
    )
    assert (
        Notification.objects.filter(
            municipality=amsterdam, key__startswith="reminder:2026HJ02"
        ).count()
        == 0
    )


def test_the_right_day_in_amsterdam_across_daylight_saving(two_gemeenten, fixed_today, mailbox):
    # 1 day before the 2026HJ02 deadline is 30 March 2027, after the switch to summer time
    # (28 March). At 00:30 Amsterdam time it is still 29 March in UTC.
    fixed_today.move_to(datetime.datetime(2027, 3, 29, 22, 30, tzinfo=datetime.UTC))
    run_daily_and_send()
    assert [m["Subject"] for m in mailbox.to("bert@utrecht.example")] == [
        "MSD Portaal: Nog 1 dag(en) tot de deadline van 2026HJ02"
    ]
    mailbox.clear()
    # Late on 29 March Amsterdam time (21:30 UTC): not yet.
    fixed_today.move_to(datetime.datetime(2027, 3, 28, 21, 30, tzinfo=datetime.UTC))
    Notification.objects.all().delete()
    EmailLedger.objects.all().delete()
    run_daily_and_send()
    assert not mailbox.to("bert@utrecht.example")


def test_moving_a_deadline_shifts_the_reminders_and_the_overview(
    two_gemeenten, client_a, user_a, fixed_today, mailbox
):
    _amsterdam, utrecht = two_gemeenten
    period = ReportingPeriod.objects.for_half_year(HalfYear.from_code("2026HJ02"))
    period.deadline = datetime.date(2027, 4, 30)  # IB moves it for everyone
    period.save()
    fixed_today.move_to("2027-03-30T09:00:00+02:00")
    run_daily_and_send()
    assert not mailbox.to("bert@utrecht.example")  # the old 1-day reminder no longer applies
    fixed_today.move_to("2027-04-29T09:00:00+02:00")
    run_daily_and_send()
    assert [m["Subject"] for m in mailbox.to("bert@utrecht.example")] == [
        "MSD Portaal: Nog 1 dag(en) tot de deadline van 2026HJ02"
    ]
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)
    page = client_a.get(reverse("overview:index")).content.decode()
    assert "30 april 2027" in page

    # An extension for one gemeente moves only its reminders.
    DeadlineExtension.objects.create(
        period=period, municipality=utrecht, deadline=datetime.date(2027, 5, 14)
    )
    mailbox.clear()
    fixed_today.move_to("2027-05-13T09:00:00+02:00")
    run_daily_and_send()
    assert [m["Subject"] for m in mailbox.to("bert@utrecht.example")] == [
        "MSD Portaal: Nog 1 dag(en) tot de deadline van 2026HJ02"
    ]
    assert not mailbox.to("anna@amsterdam.example")


def test_one_refused_address_does_not_stop_the_others(municipality_a, fixed_today, mailbox):
    contact(municipality_a, "bestaatniet@amsterdam.example")
    contact(municipality_a, "anna@amsterdam.example")
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    run_daily_and_send()
    assert len(mailbox.to("anna@amsterdam.example")) == 1
    failed = EmailLedger.objects.get(recipient="bestaatniet@amsterdam.example")
    assert failed.state == "failed"
    assert "Mailbox does not exist" in failed.error
    # An unknown mailbox (5xx) stays unknown: neither the sweeper nor the next run tries
    # it again, and the delivered one is not sent twice.
    fixed_today.shift(datetime.timedelta(hours=2))
    run_daily_and_send()
    assert len(mailbox.to("anna@amsterdam.example")) == 1
    assert EmailLedger.objects.get(recipient="bestaatniet@amsterdam.example").attempts == 1


def test_the_email_itself(municipality_a, fixed_today, mailbox):
    contact(municipality_a, "anna@amsterdam.example")
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    run_daily_and_send()
    (message,) = mailbox.to("anna@amsterdam.example")
    assert message["Subject"] == "MSD Portaal: Aanleveren voor 2026HJ02 kan vanaf vandaag"
    assert message["To"] == "anna@amsterdam.example"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Beste anna," in text
    assert "De deadline is 31 maart 2027." in text
    assert "http://127.0.0.1:8000/aanleveren/" in text
    assert 'href="http://127.0.0.1:8000/aanleveren/"' in html
    assert "31 maart 2027" in html


def test_ib_daily_digest(municipality_a, fixed_today, mailbox):
    config = NotificationSettings.get_solo()
    config.digest_email = "functioneel-beheer@ib.example"
    config.save()
    contact(municipality_a, "anna@amsterdam.example")
    fixed_today.move_to("2027-03-20T08:00:00+01:00")  # 11 days before the 2026HJ02 deadline
    run_daily_and_send()
    run_daily_and_send()
    (digest,) = mailbox.to("functioneel-beheer@ib.example")
    body = digest.get_body(("plain",)).get_content()
    assert "Amsterdam (2026HJ02): WMO basisset" in body
    assert "Gemeenten zonder contactpersoon voor meldingen: 341" in body
    assert "- Utrecht" in body


def test_a_new_report_notifies(
    municipality_a, mailbox, django_capture_on_commit_callbacks, rinis_headers
):
    from django.test import Client as DjangoClient

    from msdportaal.reports.tests.helpers import di01

    contact(municipality_a, "anna@amsterdam.example", [Event.REPORT])
    body, action = di01("0363")
    with django_capture_on_commit_callbacks(execute=True):
        response = DjangoClient().generic(
            "POST",
            "/rinis/ggk/",
            body,
            content_type="text/xml",
            HTTP_SOAPACTION=f'"{action}"',
            **rinis_headers,
        )
    assert response.status_code == 200
    assert sweep_stored_emails() == 1
    (message,) = mailbox.to("anna@amsterdam.example")
    assert (
        message["Subject"]
        == "MSD Portaal: Rapport van CBS ontvangen: Foutrapport (technische controle)"
    )
    assert Notification.objects.get(municipality=municipality_a).event == Event.REPORT


def test_notification_list_and_count(client_a, user_a, municipality_a, fixed_today):
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    run_daily_and_send()
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)
    page = client_a.get(reverse("overview:index")).content.decode()
    assert 'class="msd-badge">1<' in page
    inbox = client_a.get(reverse("notifications:inbox")).content.decode()
    assert "Aanleveren voor 2026HJ02 kan vanaf vandaag" in inbox
    # Opening the list reads it: this visit still marks what was new, the menu's count is gone.
    assert "Ongelezen</span> Aanleveren voor 2026HJ02" in inbox
    assert "msd-badge" not in inbox
    assert "msd-badge" not in client_a.get(reverse("overview:index")).content.decode()
    again = client_a.get(reverse("notifications:inbox")).content.decode()
    assert "Ongelezen" not in again
    assert "Naar Aanleveren" in again  # the link says where it goes
    client_a.post(reverse("notifications:mark_read"))  # still answers (nothing left to mark)
    assert "msd-badge" not in client_a.get(reverse("overview:index")).content.decode()


def test_first_profile_makes_the_user_a_contact(client, municipality_a):
    user = make_municipal_user(municipality_a, username="nieuw")
    user.profile_completed_at = None
    user.save()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    client.post(
        reverse("organisations:profile"),
        {
            "first_name": "Nina",
            "last_name": "Nieuw",
            "email": "Nina@Amsterdam.example",
            "phone": "020 123 45 67",
        },
    )
    (added,) = Contact.objects.filter(municipality=municipality_a)
    assert added.email == "nina@amsterdam.example"
    assert set(added.events) == set(ALL_EVENTS)


def test_contacts_are_managed_per_gemeente(client_a, user_b, municipality_b):
    response = client_a.post(
        reverse("notifications:contacts"),
        {"name": "Collega", "email": "collega@amsterdam.example", "events": [Event.REPORT]},
    )
    assert response.status_code == 302
    colleague = Contact.objects.get(email="collega@amsterdam.example")
    assert colleague.events == [Event.REPORT]
    again = client_a.post(
        reverse("notifications:contacts"), {"name": "X", "email": "collega@amsterdam.example"}
    )
    assert "Dit e-mailadres staat al in de lijst." in again.content.decode()
    client_b = Client()
    client_b.force_login(user_b, backend=MUNICIPAL_BACKEND)
    assert (
        client_b.get(reverse("notifications:edit_contact", args=[colleague.pk])).status_code == 404
    )
    assert (
        client_b.post(
            reverse("notifications:edit_contact", args=[colleague.pk]), {"remove": "1"}
        ).status_code
        == 404
    )
    assert Contact.objects.filter(pk=colleague.pk).exists()


def test_a_reminder_says_what_the_overview_says(
    two_gemeenten, client_a, user_a, fixed_today, mailbox
):
    """A gemeente with everything delivered but one set rejected is reminded too, with the
    exact file to deliver again; one missing sets hears which files are still due."""
    from msdportaal.consent.tests.factories import report
    from msdportaal.reports.models import ReportKind

    amsterdam, _utrecht = two_gemeenten
    fixed_today.move_to("2027-01-10T10:00:00+01:00")
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)
    deliver_everything_for(client_a, "0363", "2026HJ02", "2026JJ00")
    kosten = amsterdam.deliveries.get(file_name="MSD_WMO-KOSTEN_0363_2026HJ02.csv")
    report(amsterdam, "2026HJ02", delivery=kosten, kind=ReportKind.ERROR)
    mailbox.clear()
    fixed_today.move_to("2027-03-17T07:00:00+01:00")  # 14 days before 31 March
    run_daily_and_send()
    (anna,) = mailbox.to("anna@amsterdam.example")
    assert anna["Subject"] == "MSD Portaal: Nog 14 dag(en) tot de deadline van 2026HJ02"
    body = anna.get_body(("plain",)).get_content()
    assert "Wat Amsterdam nog moet doen:" in body
    assert "- CBS heeft MSD_WMO-KOSTEN_0363_2026HJ02.csv afgekeurd (WMO kostenset)." in body
    assert "/overzicht/" in body
    (bert,) = mailbox.to("bert@utrecht.example")
    body = bert.get_body(("plain",)).get_content()
    assert (
        "- Lever de WMO basisset aan vóór of op 31 maart 2027 (MSD_WMO-BASIS_0344_2026HJ02.csv)."
        in body
    )
    assert (
        "- Lever de Kosten SBO aan vóór of op 31 maart 2027 (MSD_KOSTEN-SBO_0344_2026JJ00.csv)."
        in body
    )
