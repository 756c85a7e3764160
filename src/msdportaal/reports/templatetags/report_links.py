"""``{% load report_links %}``: ``{{ report|report_url }}``, the link to one report."""

from __future__ import annotations

from django import template

from msdportaal.reports.models import Report
from msdportaal.reports.selectors import report_url as _report_url

register = template.Library()


@register.filter
def report_url(report: Report) -> str:
    return _report_url(report)
