"""The gemeente's agenda: its dates as iCalendar events (RFC 5545), and the personal
subscription URLs that serve them.

Every event comes from the calendar service (:func:`periods.services.period_dates`), for
the previous, current and next period (:func:`periods.services.calendar_half_years`):

=====================  ====================================  ====================
event                  day                                   alarm
=====================  ====================================  ====================
window opens           ``window_opens``                      —
deadline               the gemeente's deadline (extension)   a week before, 09:00
consent form opens     ``consent_opens``                     —
consent last day       ``consent_last_day``                  a week before, 09:00
=====================  ====================================  ====================

Each event is the whole day in Europe/Amsterdam, 00:00 to 00:00 the next day, with
``TZID=Europe/Amsterdam`` and a VTIMEZONE made from the time zone database: the
deadline is the end of that day in Dutch time (``today > deadline`` marks a delivery
late), wherever the reader's calendar is set. The events are ``TRANSPARENT``, so they do
not block anyone's day as busy. The alarm's trigger is ``-P6DT15H`` from the start: 09:00
Dutch time seven days before, on either side of a change to or from summer time.

The feed holds the gemeente's name and dates, nothing about the user who subscribed.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.organisations.models import Municipality
from msdportaal.organisations.scoping import for_acting_municipality
from msdportaal.periods.models import ReportingPeriod
from msdportaal.periods.services import PeriodDates, calendar_half_years, period_dates

from .models import CalendarSubscription, new_token

#: 09:00 seven days before the start (00:00) of the event's day; days are nominal in
#: RFC 5545, so this holds across a change to or from summer time.
ALARM_TRIGGER = -datetime.timedelta(days=6, hours=15)
#: How often calendar apps should fetch the feed again (Outlook, Apple, Thunderbird).
REFRESH = datetime.timedelta(hours=6)
PRODID = "-//Inlichtingenbureau//MSD Portaal//NL"
#: What a token looks like (secrets.token_urlsafe(32)); anything else is not looked up.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def amsterdam() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


class EventKind(StrEnum):
    WINDOW_OPENS = "aanleverperiode"
    DEADLINE = "deadline"
    CONSENT_OPENS = "toestemming"
    CONSENT_LAST_DAY = "toestemming-laatste-dag"


@dataclass(frozen=True)
class AgendaEvent:
    kind: EventKind
    period_code: str
    municipality_code: str
    day: datetime.date
    summary: str
    description: str
    link: str
    #: The alarm's text; empty: no alarm.
    alarm: str = ""

    @property
    def uid(self) -> str:
        """Stable, so a moved date updates the event instead of adding one."""
        return f"{self.kind}-{self.period_code}-GM{self.municipality_code}@msd-portaal"

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.day, datetime.time(0), tzinfo=amsterdam())

    @property
    def end(self) -> datetime.datetime:
        following = self.day + datetime.timedelta(days=1)
        return datetime.datetime.combine(following, datetime.time(0), tzinfo=amsterdam())


def _date(value: datetime.date) -> str:
    return formats.date_format(value, "j F Y")


def _period_events(municipality: Municipality, dates: PeriodDates) -> list[AgendaEvent]:
    period = dates.period
    names = {
        "name": municipality.name,
        "code": period.code,
        "label": period.half_year.label,
        "deadline": _date(dates.deadline),
        "general": _date(dates.general_deadline),
        "last_day": _date(dates.consent_last_day),
    }
    closed = ""
    if period.closed_at is not None:
        closed = " " + _("IB heeft deze verslagperiode gesloten per %(date)s.") % {
            "date": _date(timezone.localtime(period.closed_at).date())
        }
    deadline_text = (
        _(
            "Laatste dag om de bestanden van %(name)s voor verslagperiode %(label)s "
            "(%(code)s) aan te leveren in MSD Portaal. Wat later binnenkomt, wordt "
            "gemarkeerd als 'na de deadline'; CBS beslist of het nog wordt gebruikt."
        )
        % names
    )
    if dates.extended:
        deadline_text += " " + (
            _(
                "%(name)s heeft uitstel gekregen tot %(deadline)s; de algemene deadline "
                "is %(general)s."
            )
            % names
        )
    upload, consent = reverse("deliveries:upload"), reverse("consent:forms")
    return [
        AgendaEvent(
            EventKind.WINDOW_OPENS,
            period.code,
            municipality.code,
            dates.window_opens,
            _("MSD: aanleverperiode %(code)s opent") % names,
            _(
                "Vanaf vandaag kan %(name)s de bestanden voor verslagperiode %(label)s "
                "(%(code)s) aanleveren in MSD Portaal. De deadline is %(deadline)s."
            )
            % names
            + closed,
            upload,
        ),
        AgendaEvent(
            EventKind.DEADLINE,
            period.code,
            municipality.code,
            dates.deadline,
            (
                _("MSD: deadline aanleveren %(code)s (uitstel)")
                if dates.extended
                else _("MSD: deadline aanleveren %(code)s")
            )
            % names,
            deadline_text + closed,
            upload,
            alarm=_(
                "Over een week, op %(deadline)s, is de deadline om de bestanden voor "
                "%(code)s aan te leveren."
            )
            % names,
        ),
        AgendaEvent(
            EventKind.CONSENT_OPENS,
            period.code,
            municipality.code,
            dates.consent_opens,
            _("MSD: toestemmingsformulier %(code)s opent") % names,
            _(
                "Vanaf vandaag kan %(name)s toestemming geven voor de publicatie van de "
                "cijfers over verslagperiode %(label)s (%(code)s), zodra CBS de gegevens "
                "op orde heeft bevonden. U krijgt een melding als het formulier klaarstaat."
            )
            % names
            + closed,
            consent,
        ),
        AgendaEvent(
            EventKind.CONSENT_LAST_DAY,
            period.code,
            municipality.code,
            dates.consent_last_day,
            _("MSD: laatste dag toestemming %(code)s") % names,
            _(
                "Tot en met vandaag kan %(name)s in MSD Portaal aangeven of CBS de cijfers "
                "over verslagperiode %(label)s (%(code)s) mag publiceren."
            )
            % names
            + closed,
            consent,
            alarm=_(
                "Over een week, op %(last_day)s, sluit het toestemmingsformulier voor %(code)s."
            )
            % names,
        ),
    ]


def agenda_periods(today: datetime.date | None = None) -> list[ReportingPeriod]:
    return [ReportingPeriod.objects.for_half_year(h) for h in calendar_half_years(today)]


def events_for(municipality: Municipality, today: datetime.date | None = None) -> list[AgendaEvent]:
    """Every event of the gemeente's agenda, in Dutch, by day."""
    with translation.override("nl"):
        events = [
            event
            for period in agenda_periods(today)
            for event in _period_events(municipality, period_dates(period, municipality))
        ]
    return sorted(events, key=lambda e: (e.day, e.uid))


def deadline_event(
    municipality: Municipality, code: str, today: datetime.date | None = None
) -> AgendaEvent | None:
    """The deadline of one of the agenda's periods, or None for any other code."""
    for event in events_for(municipality, today):
        if event.kind == EventKind.DEADLINE and event.period_code == code:
            return event
    return None


# --- iCalendar ------------------------------------------------------------------------


def _vevent(event: AgendaEvent, stamp: datetime.datetime) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", event.start)
    vevent.add("dtend", event.end)
    vevent.add("summary", event.summary)
    vevent.add("description", event.description)
    vevent.add("url", settings.MSD_PUBLIC_URL + event.link)
    vevent.add("transp", "TRANSPARENT")
    vevent.add("status", "CONFIRMED")
    if event.alarm:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.alarm)
        alarm.add("trigger", ALARM_TRIGGER)
        vevent.add_component(alarm)
    return vevent


def to_ical(events: list[AgendaEvent], *, name: str) -> bytes:
    """A calendar (``METHOD:PUBLISH``) with the events and the VTIMEZONE they use."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT6H")
    stamp = timezone.now().astimezone(datetime.UTC).replace(microsecond=0)
    for event in events:
        calendar.add_component(_vevent(event, stamp))
    if events:
        # Only the transitions the events and their alarms need, not 1970–2038.
        first = min(e.day for e in events) - datetime.timedelta(days=8)
        last = max(e.day for e in events) + datetime.timedelta(days=2)
        calendar.add_missing_timezones(
            first_date=first.replace(month=1, day=1), last_date=last.replace(month=12, day=31)
        )
    return calendar.to_ical()


def calendar_name(municipality: Municipality) -> str:
    return f"MSD Portaal — {municipality.name}"


def feed(municipality: Municipality) -> bytes:
    return to_ical(events_for(municipality), name=calendar_name(municipality))


# --- subscriptions ----------------------------------------------------------------------


def subscription_for_token(token: str) -> CalendarSubscription | None:
    """The subscription a feed URL belongs to, while its user may still act for the
    gemeente (an active municipal account that has the gemeente); else None."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    subscription = (
        CalendarSubscription.objects.select_related("user", "municipality")
        .filter(token=token)
        .first()
    )
    if subscription is None:
        return None
    user = subscription.user
    if not user.is_active or user.is_staff:
        return None
    if not user.municipalities.active().filter(pk=subscription.municipality_id).exists():
        return None
    return subscription


def own_subscription(request: HttpRequest) -> CalendarSubscription | None:
    """The user's subscription for the gemeente acted for (scoped like all municipal data)."""
    return for_acting_municipality(
        CalendarSubscription.objects.filter(user=request.user), request
    ).first()


def feed_url(subscription: CalendarSubscription) -> str:
    return settings.MSD_PUBLIC_URL + reverse("agenda:feed", args=[subscription.token])


def renew(request: HttpRequest) -> CalendarSubscription:
    """Makes the user's feed URL for the acting gemeente, or replaces it by a new one: the
    old URL answers 404 from the commit on. Recorded in the audit trail (never the token).
    """
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    with transaction.atomic():
        subscription = (
            for_acting_municipality(
                CalendarSubscription.objects.select_for_update().filter(user=request.user),
                request,
            )
            .order_by("pk")
            .first()
        )
        renewed = subscription is not None
        if subscription is None:
            try:
                with transaction.atomic():
                    subscription = CalendarSubscription.objects.create(
                        user=request.user, municipality=municipality
                    )
            except IntegrityError:  # a second click made it first: renew that one
                subscription = CalendarSubscription.objects.select_for_update().get(
                    user=request.user, municipality=municipality
                )
                renewed = True
        if renewed:
            subscription.token = new_token()
            subscription.renewed_at = timezone.now()
            subscription.save(update_fields=["token", "renewed_at"])
        record(
            AuditAction.CALENDAR_LINK,
            request=request,
            target=subscription,
            message=(
                f"Agenda-link vernieuwd voor {municipality.name}; de vorige link werkt niet meer"
                if renewed
                else f"Agenda-link gemaakt voor {municipality.name}"
            ),
            renewed=renewed,
        )
    return subscription
