"""IB's start page in the admin: what needs attention this morning.

Each number counts exactly the rows of the list it links to: the outbox list filtered on
its status, the gemeenten filtered on :class:`DeliveryStatusFilter` (the same rule as the
deadline reminders, ``notifications.schedule.missing_sets``, with each gemeente's own
deadline, extension included; or with a set CBS rejected), the extensions filtered on the
day they were granted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from msdportaal.notifications.schedule import missing_sets
from msdportaal.organisations.models import Municipality
from msdportaal.periods.models import DeadlineExtension, ReportingPeriod
from msdportaal.periods.services import open_half_years
from msdportaal.reports.selectors import Outcome, outcomes_per_municipality
from msdportaal.transport.models import MessageState, OutboundMessage
from msdportaal.transport.services import UNFINISHED

#: The gemeenten filter's values: ``<period code>:<which>``.
MISSING, OVERDUE, IN_TIME, REJECTED = "ontbreekt", "te-laat", "op-tijd", "afgekeurd"


@dataclass(frozen=True)
class Line:
    label: str
    count: int
    url: str
    attention: bool = False


@dataclass(frozen=True)
class PeriodLines:
    period: ReportingPeriod
    lines: list[Line]


@dataclass(frozen=True)
class StartPage:
    outbox: list[Line] | None
    oldest_waiting: OutboundMessage | None
    periods: list[PeriodLines] | None
    extensions_today: Line | None


def open_periods(today: datetime.date) -> list[ReportingPeriod]:
    """The periods gemeenten deliver for now (current and previous half-year) whose
    window has opened and that IB has not closed."""
    periods = [ReportingPeriod.objects.for_half_year(h) for h in open_half_years(today)]
    return [p for p in periods if p.window_opens <= today and not p.is_closed]


def behind(period: ReportingPeriod, today: datetime.date) -> dict[str, set[int]]:
    """Gemeente ids still missing a set of *period*: all of them, those past their own
    deadline (an extension moves it), and those still in time; and the gemeenten whose
    CSV in force for a set CBS rejected (a foutrapport: they must deliver it again)."""
    missing = set(missing_sets(period))
    extensions = dict(period.extensions.values_list("municipality_id", "deadline"))
    overdue = {
        m for m in missing if today > max(period.deadline, extensions.get(m, period.deadline))
    }
    rejected = {
        municipality_id
        for municipality_id, sets in outcomes_per_municipality(period).items()
        if any(s.status == Outcome.REJECTED for s in sets)
    }
    return {MISSING: missing, OVERDUE: overdue, IN_TIME: missing - overdue, REJECTED: rejected}


def today_bounds(
    now: datetime.datetime | None = None,
) -> tuple[datetime.datetime, datetime.datetime]:
    """Today from midnight to midnight in Europe/Amsterdam, as the admin's date filter
    ("Vandaag") has it."""
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(days=1)


def _may_view(request: HttpRequest, model: type[Any]) -> bool:
    model_admin = admin.site._registry.get(model)
    return model_admin is not None and model_admin.has_view_permission(request)


def _changelist(model: type[Any], **params: Any) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def period_lines(period: ReportingPeriod, today: datetime.date) -> PeriodLines:
    groups = behind(period, today)

    def line(which: str, label: str, attention: bool = False) -> Line:
        url = _changelist(Municipality, aanlevering=f"{period.code}:{which}")
        return Line(label, len(groups[which]), url, attention=attention and bool(groups[which]))

    return PeriodLines(
        period,
        [
            line(MISSING, _("Gemeenten die nog een set missen")),
            line(OVERDUE, _("… van wie de deadline voorbij is, ook na uitstel"), attention=True),
            line(
                IN_TIME,
                _("… die nog tijd hebben (deadline %(date)s, of later met uitstel)")
                % {"date": formats.date_format(period.deadline, "j F Y")},
            ),
            line(
                REJECTED,
                _("Gemeenten met een set die CBS afkeurde (foutrapport, opnieuw aanleveren)"),
                attention=True,
            ),
        ],
    )


def start_page(request: HttpRequest, today: datetime.date | None = None) -> StartPage:
    today = today or timezone.localdate()
    outbox = oldest = periods = extensions = None

    if _may_view(request, OutboundMessage):
        messages: QuerySet[OutboundMessage] = OutboundMessage.objects.all()
        failed = messages.filter(state=MessageState.FAILED).count()
        retrying = messages.filter(state=MessageState.RETRYING).count()
        outbox = [
            Line(
                _("Mislukt: opnieuw versturen of uitzoeken"),
                failed,
                _changelist(OutboundMessage, state__exact=MessageState.FAILED),
                attention=failed > 0,
            ),
            Line(
                _("Nieuwe poging gepland"),
                retrying,
                _changelist(OutboundMessage, state__exact=MessageState.RETRYING),
            ),
        ]
        oldest = (
            messages.filter(state__in=UNFINISHED)
            .select_related("municipality")
            .order_by("created_at", "pk")
            .first()
        )

    if _may_view(request, Municipality):
        periods = [period_lines(period, today) for period in open_periods(today)]

    if _may_view(request, DeadlineExtension):
        start, end = today_bounds()
        extensions = Line(
            _("Uitstel vandaag verleend"),
            DeadlineExtension.objects.filter(granted_at__gte=start, granted_at__lt=end).count(),
            _changelist(DeadlineExtension, granted_at__gte=str(start), granted_at__lt=str(end)),
        )

    return StartPage(outbox, oldest, periods, extensions)


class DeliveryStatusFilter(admin.SimpleListFilter):
    """On the gemeenten list: who still misses a set of an open period, past or within
    their own deadline (the start page's numbers link here)."""

    title = gettext_lazy("aanlevering")
    parameter_name = "aanlevering"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = []
        for period in open_periods(timezone.localdate()):
            choices += [
                (
                    f"{period.code}:{MISSING}",
                    _("%(code)s: mist nog een set") % {"code": period.code},
                ),
                (
                    f"{period.code}:{OVERDUE}",
                    _("%(code)s: mist een set, deadline voorbij") % {"code": period.code},
                ),
                (
                    f"{period.code}:{IN_TIME}",
                    _("%(code)s: mist een set, nog op tijd") % {"code": period.code},
                ),
                (
                    f"{period.code}:{REJECTED}",
                    _("%(code)s: een set afgekeurd door CBS") % {"code": period.code},
                ),
            ]
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Municipality]) -> QuerySet:
        if not self.value():
            return queryset
        code, _sep, which = self.value().partition(":")
        period = ReportingPeriod.objects.filter(code=code).first()
        if period is None or which not in (MISSING, OVERDUE, IN_TIME, REJECTED):
            return queryset.none()
        return queryset.filter(pk__in=behind(period, timezone.localdate())[which])
