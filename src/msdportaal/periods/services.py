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


def get_period(half_year: HalfYear) -> ReportingPeriod:
    period, _created = ReportingPeriod.objects.get_or_create(code=half_year.code)
    return period


def open_half_years(today: datetime.date | None = None) -> tuple[HalfYear, HalfYear]:
    current = current_half_year(today or timezone.localdate())
    return current, current.previous()


def check_open_for_delivery(half_year: HalfYear, today: datetime.date | None = None) -> PeriodCheck:
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
    return PeriodCheck(period, late=today > period.deadline)
