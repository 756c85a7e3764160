"""The portal's one way to write sizes and moments (``{% load msd %}``).

- ``{{ size|msd_size }}``: "759 bytes", "3,0 kB", "12,3 MB", "1,2 GB" (decimal units, one
  decimal, as ``upload.js`` shows progress), so the same file never reads "3,0 kB" on one
  page and "2,9 KB" on another.
- ``{{ moment|msd_datetime }}``: "3 december 2026 10:09" in Europe/Amsterdam, in every table.
- ``{{ day|msd_date }}``: "3 december 2026".
"""

from __future__ import annotations

import datetime

from django import template
from django.utils import formats, timezone
from django.utils.translation import ngettext

register = template.Library()

_UNITS = ((1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    for factor, unit in _UNITS:
        if size >= factor:
            return f"{size / factor:.1f}".replace(".", ",") + f" {unit}"
    return ngettext("%(n)d byte", "%(n)d bytes", size) % {"n": size}


def format_datetime(value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "j F Y H:i")


def format_date(value: datetime.date | datetime.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "j F Y")


register.filter("msd_size", format_size)
register.filter("msd_datetime", format_datetime)
register.filter("msd_date", format_date)
