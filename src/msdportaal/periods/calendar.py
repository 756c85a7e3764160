"""CBS period codes and the delivery calendar, as plain functions (DESIGN.md §2, §3.4).

A reporting period (verslagperiode) is a half-year: ``2026HJ01`` (January–June) or
``2026HJ02`` (July–December). The yearly cost sets are delivered in the HJ02 period
under the code ``2026JJ00``. A period's delivery window opens on the first day of the
month after it ends.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

_CODE = re.compile(r"^(?P<year>\d{4})(?P<kind>HJ01|HJ02|JJ00)$")


class InvalidPeriodCode(ValueError):
    pass


@dataclass(frozen=True, order=True)
class HalfYear:
    year: int
    half: int  # 1 or 2

    @classmethod
    def containing(cls, day: datetime.date) -> HalfYear:
        return cls(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def from_code(cls, code: str) -> HalfYear:
        """``2026HJ01`` → first half of 2026; ``2026JJ00`` (yearly sets) → its HJ02 period."""
        match = _CODE.match(code)
        if match is None:
            raise InvalidPeriodCode(code)
        year = int(match["year"])
        return cls(year, 1 if match["kind"] == "HJ01" else 2)

    @property
    def code(self) -> str:
        return f"{self.year}HJ0{self.half}"

    @property
    def yearly_code(self) -> str:
        """The code the yearly cost sets carry in this period (only in HJ02)."""
        return f"{self.year}JJ00"

    @property
    def start(self) -> datetime.date:
        return datetime.date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def end(self) -> datetime.date:
        return (
            datetime.date(self.year, 6, 30) if self.half == 1 else datetime.date(self.year, 12, 31)
        )

    @property
    def window_opens(self) -> datetime.date:
        return self.end + datetime.timedelta(days=1)

    def deadline(self, window_months: int) -> datetime.date:
        """Last day of the delivery window."""
        return self.window_opens + relativedelta(months=window_months) - datetime.timedelta(days=1)

    def previous(self) -> HalfYear:
        return HalfYear(self.year, 1) if self.half == 2 else HalfYear(self.year - 1, 2)

    def next(self) -> HalfYear:
        return HalfYear(self.year, 2) if self.half == 1 else HalfYear(self.year + 1, 1)

    @property
    def label(self) -> str:
        return f"{self.year}, {'1e' if self.half == 1 else '2e'} halfjaar"

    def __str__(self) -> str:
        return self.code


def current_half_year(today: datetime.date) -> HalfYear:
    """The latest period whose delivery window has opened."""
    return HalfYear.containing(today).previous()


def is_valid_code(code: str) -> bool:
    return _CODE.match(code) is not None
