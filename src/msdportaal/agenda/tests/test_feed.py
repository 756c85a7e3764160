"""The agenda feed, read back as a calendar app would read it (icalendar), and checked
against the calendar service (periods.services.period_dates)."""

from __future__ import annotations

import datetime
import logging
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Alarms, Calendar

from msdportaal.agenda.models import CalendarSubscription
from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.consent.selectors import FormStatus, decide_status
from msdportaal.organisations.models import Municipality
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DeadlineExtension, ReportingPeriod
from msdportaal.periods.services import calendar_half_years, period_dates

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")
RENEW = "/mijn-gegevens/agenda/"
#: On 2026-11-29: previous, current and next period.
PERIODS = ["2025HJ02", "2026HJ01", "2026HJ02"]


def period(code: str) -> ReportingPeriod:
    return ReportingPeriod.objects.for_half_year(HalfYear.from_code(code))


def subscribe(client: Client) -> str:
    """Makes (or renews) the link on Mijn gegevens and copies it from the page, as a user
    does; returns the feed's path."""
    response = client.post(RENEW)
    assert response.status_code == 302
    assert response["Location"] == "/mijn-gegevens/#agenda"
    page = client.get("/mijn-gegevens/").content.decode()
    match = re.search(r'value="http://127\.0\.0\.1:8000(/agenda/[A-Za-z0-9_-]{43}\.ics)"', page)
    assert match, "no agenda link on Mijn gegevens"
    return match.group(1)


def fetch(path: str) -> Calendar:
    """As a calendar app does: no session, no cookies."""
    response = Client().get(path)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    return Calendar.from_ical(response.content)


def midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=AMS)


def expected_events(municipality: Municipality) -> dict[str, datetime.date]:
    """uid → day, from the calendar service."""
    expected = {}
    for half_year in calendar_half_years():
        dates = period_dates(ReportingPeriod.objects.for_half_year(half_year), municipality)
        code, gm = half_year.code, municipality.gm_code
        expected |= {
            f"aanleverperiode-{code}-{gm}@msd-portaal": dates.window_opens,
            f"deadline-{code}-{gm}@msd-portaal": dates.deadline,
            f"toestemming-{code}-{gm}@msd-portaal": dates.consent_opens,
            f"toestemming-laatste-dag-{code}-{gm}@msd-portaal": dates.consent_last_day,
        }
    return expected


def check_event(event, day: datetime.date) -> None:
    """A whole day in Dutch time, TZID Europe/Amsterdam, not blocking the day as busy."""
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert event["DTEND"].params["TZID"] == "Europe/Amsterdam"
    assert event.start == midnight(day)
    assert event.end == midnight(day + datetime.timedelta(days=1))
    assert str(event["TRANSP"]) == "TRANSPARENT"
    if str(event["UID"]).startswith(("deadline-", "toestemming-laatste-dag-")):
        (alarm,) = Alarms(event).times
        # 09:00 Dutch time, a week before the day.
        expected = datetime.datetime.combine(
            day - datetime.timedelta(days=7), datetime.time(9), tzinfo=AMS
        )
        assert alarm.trigger == expected
        assert alarm.trigger.utcoffset() == expected.utcoffset()
    else:
        assert not event.walk("VALARM")


def test_every_event_is_the_calendar_services_date_with_ib_changes_and_an_extension(
    client_a: Client, municipality_a, municipality_b, user_b
):
    # IB moves the next period's deadline for everyone, and gives Amsterdam more time for
    # the current one.
    next_period = period("2026HJ02")
    next_period.deadline = datetime.date(2027, 4, 15)
    next_period.save()
    DeadlineExtension.objects.create(
        period=period("2026HJ01"), municipality=municipality_a, deadline=datetime.date(2026, 12, 15)
    )
    calendar = fetch(subscribe(client_a))

    expected = expected_events(municipality_a)
    events = {str(e["UID"]): e for e in calendar.events}
    assert len(expected) == 12
    assert set(events) == set(expected)
    for uid, day in expected.items():
        check_event(events[uid], day)
    moved = events["deadline-2026HJ02-GM0363@msd-portaal"]
    assert moved.start.date() == datetime.date(2027, 4, 15)
    extended = events["deadline-2026HJ01-GM0363@msd-portaal"]
    assert extended.start.date() == datetime.date(2026, 12, 15)
    assert str(extended["SUMMARY"]) == "MSD: deadline aanleveren 2026HJ01 (uitstel)"
    assert "de algemene deadline is 30 september 2026" in str(extended["DESCRIPTION"])
    assert str(calendar["X-WR-CALNAME"]) == "MSD Portaal — Amsterdam"
    (vtimezone,) = calendar.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == "Europe/Amsterdam"

    # Utrecht has no extension: its feed has the general deadline.
    client_b = Client()
    client_b.force_login(user_b, backend=MUNICIPAL_BACKEND)
    utrecht = {str(e["UID"]): e for e in fetch(subscribe(client_b)).events}
    assert set(utrecht) == set(expected_events(municipality_b))
    general = utrecht["deadline-2026HJ01-GM0344@msd-portaal"]
    assert general.start.date() == datetime.date(2026, 9, 30)
    assert str(general["SUMMARY"]) == "MSD: deadline aanleveren 2026HJ01"


def test_summer_time_boundaries(client_a: Client, municipality_a):
    """A deadline after the change to summer time has its alarm before it; days of 23 and
    25 hours when a date falls on the night the clocks change."""
    next_period = period("2026HJ02")
    next_period.deadline = datetime.date(2027, 3, 28)  # IB moves it onto the change night
    next_period.save()
    current = period("2026HJ01")
    current.consent_opens = datetime.date(2026, 10, 25)  # the clocks go back that night
    current.save()
    events = {str(e["UID"]): e for e in fetch(subscribe(client_a)).events}

    spring = events["deadline-2026HJ02-GM0363@msd-portaal"]
    assert spring.start.isoformat() == "2027-03-28T00:00:00+01:00"
    assert spring.end.isoformat() == "2027-03-29T00:00:00+02:00"
    assert spring.end.astimezone(datetime.UTC) - spring.start.astimezone(
        datetime.UTC
    ) == datetime.timedelta(hours=23)
    (alarm,) = Alarms(spring).times
    assert alarm.trigger.isoformat() == "2027-03-21T09:00:00+01:00"

    autumn = events["toestemming-2026HJ01-GM0363@msd-portaal"]
    assert autumn.end.astimezone(datetime.UTC) - autumn.start.astimezone(
        datetime.UTC
    ) == datetime.timedelta(hours=25)

    # The consent form of 2026HJ02 closes on 31 December 2027 (winter time); its alarm
    # a week before. The window of 2026HJ01 opened in summer time.
    last_day = events["toestemming-laatste-dag-2026HJ02-GM0363@msd-portaal"]
    assert last_day.start.isoformat() == "2027-12-31T00:00:00+01:00"
    (alarm,) = Alarms(last_day).times
    assert alarm.trigger.isoformat() == "2027-12-24T09:00:00+01:00"
    summer = events["aanleverperiode-2026HJ01-GM0363@msd-portaal"]
    assert summer.start.isoformat() == "2026-07-01T00:00:00+02:00"
    # The alarm of the deadline of 31 March 2027 (summer time) falls in winter time.
    next_period.deadline = datetime.date(2027, 3, 31)
    next_period.save()
    events = {str(e["UID"]): e for e in fetch(subscribe(client_a)).events}
    deadline = events["deadline-2026HJ02-GM0363@msd-portaal"]
    assert deadline.start.isoformat() == "2027-03-31T00:00:00+02:00"
    (alarm,) = Alarms(deadline).times
    assert alarm.trigger.isoformat() == "2027-03-24T09:00:00+01:00"


def test_a_renewed_link_makes_the_old_url_answer_404_at_once(client_a: Client, user_a, caplog):
    old = subscribe(client_a)
    fetch(old)
    new = subscribe(client_a)
    assert new != old
    with caplog.at_level(logging.INFO):
        response = Client().get(old)
    assert response.status_code == 404
    assert response["Cache-Control"] == "private, no-store"
    fetch(new)
    # The old token is in no log line (it is a credential); the request line has ***.
    old_token = old.removeprefix("/agenda/").removesuffix(".ics")
    assert old_token not in caplog.text
    assert "/agenda/***.ics" in caplog.text

    page = client_a.get("/mijn-gegevens/").content.decode()
    assert new in page
    assert old not in page

    # Both steps in the audit trail, with who and which gemeente, never the token.
    entries = list(AuditEntry.objects.filter(action=AuditAction.CALENDAR_LINK).order_by("pk"))
    assert [e.details["renewed"] for e in entries] == [False, True]
    assert {e.user for e in entries} == {user_a}
    assert {e.municipality.code for e in entries} == {"0363"}
    assert entries[1].message == (
        "Agenda-link vernieuwd voor Amsterdam; de vorige link werkt niet meer"
    )
    for entry in entries:
        assert old_token not in entry.message + str(entry.details)
        assert new.removeprefix("/agenda/").removesuffix(".ics") not in str(entry.details)


def test_the_feed_holds_nothing_about_the_user(client_a: Client, user_a):
    user_a.phone = "06 12345678"
    user_a.save()
    body = Client().get(subscribe(client_a)).content.decode()
    for personal in (user_a.first_name, user_a.last_name, user_a.email, "12345678", "medewerker"):
        assert personal not in body
    for field in ("ORGANIZER", "ATTENDEE", "CONTACT"):
        assert f"\n{field}" not in body
    assert "Amsterdam" in body


def test_the_link_stops_with_the_users_access(client_a: Client, user_a, municipality_b):
    feed = subscribe(client_a)
    fetch(feed)
    user_a.municipalities.set([municipality_b])  # IB took Amsterdam away in the admin
    assert Client().get(feed).status_code == 404
    user_a.municipalities.set([Municipality.objects.get(code="0363")])
    fetch(feed)
    user_a.is_active = False
    user_a.save()
    assert Client().get(feed).status_code == 404
    for wrong in ("/agenda/kort.ics", "/agenda/" + "A" * 43 + ".ics", feed.upper()):
        assert Client().get(wrong).status_code == 404
    assert Client().post(feed).status_code == 405


def test_one_link_per_user_and_gemeente(municipality_a):
    intermediary = make_municipal_user(
        municipality_a, Municipality.objects.get(code="0599"), username="intermediair"
    )
    client = Client()
    client.force_login(intermediary, backend=MUNICIPAL_BACKEND)
    # No gemeente chosen yet: Mijn gegevens says to choose one first.
    page = client.get("/mijn-gegevens/").content.decode()
    assert "Kies eerst een gemeente" in page
    assert client.post(RENEW).status_code == 302
    assert not CalendarSubscription.objects.exists()
    for code in ("0363", "0599"):
        client.post("/gemeente-kiezen/", {"municipality": Municipality.objects.get(code=code).pk})
        client.post(RENEW)
    subscriptions = CalendarSubscription.objects.filter(user=intermediary)
    assert sorted(s.municipality.code for s in subscriptions) == ["0363", "0599"]
    rotterdam = fetch(f"/agenda/{subscriptions.get(municipality__code='0599').token}.ics")
    assert str(rotterdam["X-WR-CALNAME"]) == "MSD Portaal — Rotterdam"


def test_zet_in_agenda_downloads_the_gemeentes_own_deadline(client_a: Client, municipality_a):
    DeadlineExtension.objects.create(
        period=period("2026HJ02"), municipality=municipality_a, deadline=datetime.date(2027, 4, 30)
    )
    response = client_a.get("/agenda/deadline/2026HJ02.ics")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="msd-deadline-2026HJ02-GM0363.ics"'
    )
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.events
    assert str(event["UID"]) == "deadline-2026HJ02-GM0363@msd-portaal"  # as in the feed
    check_event(event, datetime.date(2027, 4, 30))
    assert calendar.walk("VTIMEZONE")
    for code in ("2025HJ01", "2027HJ01", "bestaat-niet"):
        assert client_a.get(f"/agenda/deadline/{code}.ics").status_code == 404


def test_the_consent_last_day_is_the_consent_rules_last_day(municipality_a):
    """The feed's last day is the day the consent form still opens; the day after, closed."""
    for code in PERIODS:
        reporting_period = period(code)
        last = reporting_period.consent_last_day

        def status(day: datetime.date, p: ReportingPeriod = reporting_period) -> FormStatus:
            return decide_status(
                period=p, today=day, has_report=True, submitted_at=None, last_delivery_at=None
            )

        assert status(last) == FormStatus.OPEN, code
        assert status(last + datetime.timedelta(days=1)) == FormStatus.CLOSED, code
    # IB closing a period ends it early: the last day is the day before a midnight closing.
    current = period("2026HJ01")
    current.closed_at = midnight(datetime.date(2027, 2, 1))
    current.save()
    assert current.consent_last_day == datetime.date(2027, 1, 31)
    current.closed_at = datetime.datetime(2027, 2, 1, 12, 0, tzinfo=AMS)
    assert current.consent_last_day == datetime.date(2027, 2, 1)
    assert timezone.localdate() == datetime.date(2026, 11, 29)
