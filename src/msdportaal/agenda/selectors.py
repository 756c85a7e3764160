"""What other pages show of the agenda (the overview)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from msdportaal.organisations.models import Municipality
from msdportaal.periods.calendar import current_half_year
from msdportaal.periods.models import ReportingPeriod
from msdportaal.periods.services import PeriodDates, period_dates


def coming_period(municipality: Municipality, today: datetime.date | None = None) -> PeriodDates:
    """The next period, whose window has not opened yet: its dates for the gemeente."""
    half_year = current_half_year(today or timezone.localdate()).next()
    return period_dates(ReportingPeriod.objects.for_half_year(half_year), municipality)
