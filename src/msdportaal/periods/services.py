"""Which periods are open for delivery (DESIGN.md §3.4)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from .calendar import HalfYear, current_half_year
from .models import ReportingPeriod


@dataclass(frozen=True)
class PeriodCheck:
    period: ReportingPeriod | None
    error: str = ""
    late: bool = False


@dataclass(frozen=True)
class PeriodDates:
    """The calendar of one period as one gemeente has it (the agenda feed, the overview)."""

    period: ReportingPeriod
    window_opens: datetime.date
    #: This gemeente's deadline: its extension if IB granted one, else the general one.
    deadline: datetime.date
    general_deadline: datetime.date
    #: The earliest day the consent form opens (for a gemeente with an "op orde" report).
    consent_opens: datetime.date
    consent_last_day: datetime.date

    @property
    def extended(self) -> bool:
        return self.deadline > self.general_deadline


def period_dates(period: ReportingPeriod, municipality: object) -> PeriodDates:
    """The calendar service: every date of ``period`` for ``municipality``, as IB set it."""
    return PeriodDates(
        period=period,
        window_opens=period.window_opens,
        deadline=period.deadline_for(municipality),
        general_deadline=period.deadline,
        consent_opens=period.consent_opens,
        consent_last_day=period.consent_last_day,
    )


def calendar_half_years(today: datetime.date | None = None) -> list[HalfYear]:
    """The periods a gemeente plans for: the previous one (its consent form may still be
    open), the current one and the next one."""
    current = current_half_year(today or timezone.localdate())
    return [current.previous(), current, current.next()]


def get_period(half_year: HalfYear) -> ReportingPeriod:
    return ReportingPeriod.objects.for_half_year(half_year)


def generate_periods(today: datetime.date | None = None) -> list[str]:
    """Creates the periods from two years back to the next one, so IB can adjust dates
    ahead of time. Existing periods are never changed."""
    current = current_half_year(today or timezone.localdate())
    half_year, created = current.previous().previous().previous().previous(), []
    while half_year <= current.next():
        period, was_created = ReportingPeriod.objects.get_or_create(
            code=half_year.code, defaults=ReportingPeriod.defaults_for(half_year)
        )
        if was_created:
            created.append(period.code)
        half_year = half_year.next()
    return created


def open_half_years(today: datetime.date | None = None) -> tuple[HalfYear, HalfYear]:
    current = current_half_year(today or timezone.localdate())
    return current, current.previous()


def check_open_for_delivery(
    half_year: HalfYear, today: datetime.date | None = None, municipality: object = None
) -> PeriodCheck:
    """The current period and the one before it are open, unless IB closed one.

    A delivery after the deadline is accepted but marked late: IB is transport, and CBS
    decides what it still uses.
    """
    today = today or timezone.localdate()
    current, previous = open_half_years(today)
    if half_year > current:
        return PeriodCheck(
            None,
            _("Verslagperiode %(code)s is nog niet open voor aanlevering; dat kan vanaf %(date)s.")
            % {"code": half_year.code, "date": half_year.window_opens.strftime("%d-%m-%Y")},
        )
    if half_year < previous:
        return PeriodCheck(
            None,
            _(
                "Verslagperiode %(code)s is gesloten. U kunt aanleveren voor "
                "%(current)s en (als correctie) %(previous)s."
            )
            % {"code": half_year.code, "current": current.code, "previous": previous.code},
        )
    period = get_period(half_year)
    if period.is_closed:
        return PeriodCheck(
            None,
            _("Verslagperiode %(code)s is door IB gesloten; aanleveren kan niet meer.")
            % {"code": half_year.code},
        )
    deadline = period.deadline_for(municipality) if municipality is not None else period.deadline
    return PeriodCheck(period, late=today > deadline)


#: From this many days before a gemeente's deadline the overview and the upload page warn.
DEADLINE_WARNING_DAYS = 14


@dataclass(frozen=True)
class DeadlineWarning:
    period: ReportingPeriod
    deadline: datetime.date
    days_left: int
    #: IB granted this gemeente a later deadline than the period's.
    extended: bool


def deadline_warning(
    municipality: object,
    period: ReportingPeriod,
    today: datetime.date | None = None,
    deadline: datetime.date | None = None,
) -> DeadlineWarning | None:
    """A countdown from DEADLINE_WARNING_DAYS before the (possibly extended) deadline up to
    the deadline itself; None outside that window or for a closed period. ``deadline``:
    the gemeente's deadline if the caller has it already."""
    today = today or timezone.localdate()
    if period.is_closed:
        return None
    deadline = deadline or period.deadline_for(municipality)
    left = (deadline - today).days
    if not 0 <= left <= DEADLINE_WARNING_DAYS:
        return None
    return DeadlineWarning(period, deadline, left, extended=deadline != period.deadline)


def deadline_warnings(
    municipality: object, today: datetime.date | None = None
) -> list[DeadlineWarning]:
    """The warnings for the open periods (the upload page)."""
    today = today or timezone.localdate()
    warnings = []
    for half_year in open_half_years(today):
        warning = deadline_warning(municipality, get_period(half_year), today)
        if warning is not None:
            warnings.append(warning)
    return warnings
