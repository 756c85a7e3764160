"""What the overview page shows of deliveries: per open period and set, what is in force."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DataSet
from msdportaal.periods.services import open_half_years

from .models import DeliveredFile
from .selectors import delivered_files


@dataclass(frozen=True)
class SetStatus:
    data_set: DataSet
    period_code: str
    current: DeliveredFile | None


@dataclass(frozen=True)
class PeriodStatus:
    half_year: HalfYear
    deadline: datetime.date
    days_left: int
    sets: list[SetStatus]

    @property
    def missing(self) -> list[SetStatus]:
        return [s for s in self.sets if s.current is None]


def delivery_overview(request: HttpRequest) -> list[PeriodStatus]:
    today = timezone.localdate()
    in_force = {
        (f.data_set_id, f.period_code): f
        for f in delivered_files(request).filter(replaced_by__isnull=True)
    }
    data_sets = list(DataSet.objects.all())
    result = []
    for half_year in open_half_years(today):
        deadline = half_year.deadline(settings.MSD_DELIVERY_WINDOW_MONTHS)
        sets = [
            SetStatus(ds, code, in_force.get((ds.pk, code)))
            for ds in data_sets
            if (code := ds.period_code(half_year))
        ]
        result.append(PeriodStatus(half_year, deadline, (deadline - today).days, sets))
    return result
