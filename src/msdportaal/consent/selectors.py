"""Reading consent: may a gemeente fill in the form for a period, and what did it decide.

The public API for other apps (notifications) is :func:`form_state`::

    from msdportaal.consent.selectors import FormStatus, form_state

    state = form_state(municipality, period, today)  # today: a date, default today
    if state.needs_action: ...  # OPEN or REQUIRED_AGAIN: remind the gemeente
    state.status       # a FormStatus (see below)
    state.latest       # the submission in force (ConsentForm) or None
    state.report       # the most recent "op orde" report for the period, or None
    state.correction   # REQUIRED_AGAIN: the DeliveredFile delivered after the consent
    state.opens_on     # ReportingPeriod.consent_opens

The rule (DESIGN.md §3.3, requirements "Opt-in consent request"), first match wins:

``closed``          IB closed the period, or it is older than the previous period
``not_yet_open``    before ``ReportingPeriod.consent_opens`` (or a future period)
``no_report``       the gemeente has no report of kind "op orde" for the period
``open``            never submitted
``required_again``  a delivery for the period was confirmed after the latest submission
                    (a correction): the gemeente must decide again
``submitted``       decided; a change is possible and makes a new submission
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from msdportaal.deliveries.models import DeliveredFile
from msdportaal.organisations.models import Municipality
from msdportaal.organisations.scoping import for_acting_municipality
from msdportaal.periods.models import DataSet, ReportingPeriod
from msdportaal.periods.services import open_half_years
from msdportaal.reports.models import Report, ReportKind

from .models import ConsentForm

if TYPE_CHECKING:
    from django.http import HttpRequest


class FormStatus(StrEnum):
    CLOSED = "closed"
    NOT_YET_OPEN = "not_yet_open"
    NO_REPORT = "no_report"
    OPEN = "open"
    SUBMITTED = "submitted"
    REQUIRED_AGAIN = "required_again"


SUBMITTABLE = frozenset({FormStatus.OPEN, FormStatus.SUBMITTED, FormStatus.REQUIRED_AGAIN})


@dataclass(frozen=True)
class FormState:
    municipality: Municipality
    period: ReportingPeriod
    status: FormStatus
    latest: ConsentForm | None = None
    report: Report | None = None
    correction: DeliveredFile | None = None

    @property
    def opens_on(self) -> datetime.date:
        return self.period.consent_opens

    @property
    def can_submit(self) -> bool:
        return self.status in SUBMITTABLE

    @property
    def needs_action(self) -> bool:
        """The gemeente still has to decide (notifications remind about these)."""
        return self.status in (FormStatus.OPEN, FormStatus.REQUIRED_AGAIN)


def decide_status(
    *,
    period: ReportingPeriod,
    today: datetime.date,
    has_report: bool,
    submitted_at: datetime.datetime | None,
    last_delivery_at: datetime.datetime | None,
) -> FormStatus:
    """The rule itself, on plain facts (shared by :func:`form_state` and the IB overview)."""
    current, previous = open_half_years(today)
    half_year = period.half_year
    if period.is_closed or half_year < previous:
        return FormStatus.CLOSED
    if half_year > current or today < period.consent_opens:
        return FormStatus.NOT_YET_OPEN
    if not has_report:
        return FormStatus.NO_REPORT
    if submitted_at is None:
        return FormStatus.OPEN
    if last_delivery_at is not None and last_delivery_at > submitted_at:
        return FormStatus.REQUIRED_AGAIN
    return FormStatus.SUBMITTED


def latest_submission(municipality: Municipality, period: ReportingPeriod) -> ConsentForm | None:
    return (
        ConsentForm.objects.submitted()
        .filter(municipality=municipality, period=period)
        .select_related("outbound_message")
        .prefetch_related("consents")
        .order_by("-submitted_at")
        .first()
    )


def in_order_report(municipality: Municipality, period: ReportingPeriod) -> Report | None:
    """The most recent report of kind "op orde" for the period."""
    return (
        Report.objects.filter(
            municipality=municipality, period_code=period.code, kind=ReportKind.IN_ORDER
        )
        .order_by("-received_at", "-pk")
        .first()
    )


def form_state(
    municipality: Municipality, period: ReportingPeriod, today: datetime.date | None = None
) -> FormState:
    """Whether ``municipality`` can (or must) fill in the consent form for ``period``."""
    today = today or timezone.localdate()
    latest = latest_submission(municipality, period)
    report = in_order_report(municipality, period)
    correction = None
    if latest is not None:
        correction = (
            DeliveredFile.objects.filter(
                municipality=municipality,
                reporting_period=period,
                delivery__confirmed_at__gt=latest.submitted_at,
            )
            .select_related("delivery", "data_set")
            .order_by("-delivery__confirmed_at", "-pk")
            .first()
        )
    status = decide_status(
        period=period,
        today=today,
        has_report=report is not None,
        submitted_at=latest.submitted_at if latest else None,
        last_delivery_at=correction.delivery.confirmed_at if correction else None,
    )
    return FormState(
        municipality=municipality,
        period=period,
        status=status,
        latest=latest,
        report=report,
        correction=correction if status == FormStatus.REQUIRED_AGAIN else None,
    )


def open_form_states(
    municipality: Municipality, today: datetime.date | None = None
) -> list[FormState]:
    """The two forms of the split screen: the current period, then the previous one."""
    today = today or timezone.localdate()
    return [
        form_state(municipality, ReportingPeriod.objects.for_half_year(half_year), today)
        for half_year in open_half_years(today)
    ]


@dataclass(frozen=True)
class SetQuestion:
    """One set asked about in a period, with the report the decision should rest on."""

    data_set: DataSet
    period_code: str
    report: Report | None

    @property
    def question(self) -> str:
        return self.data_set.consent_question or gettext(
            "Geeft u CBS toestemming om de cijfers van uw gemeente over de %(set)s te publiceren?"
        ) % {"set": self.data_set.name.lower()}


def set_questions(municipality: Municipality, period: ReportingPeriod) -> list[SetQuestion]:
    """The sets delivered in the period (yearly cost sets only in HJ02, as ``YYYYJJ00``),
    each with the most recent CBS report about it: the report on the delivery of that set
    and period, else the most recent report for the period."""
    half_year = period.half_year
    reports = Report.objects.filter(municipality=municipality).order_by("-received_at", "-pk")
    period_report = reports.filter(period_code=period.code).first()
    questions = []
    for data_set in DataSet.objects.all():
        code = data_set.period_code(half_year)
        if code is None:
            continue
        report = (
            reports.filter(
                delivery__files__data_set=data_set, delivery__files__period_code=code
            ).first()
            or period_report
        )
        questions.append(SetQuestion(data_set, code, report))
    return questions


def submissions(request: HttpRequest) -> QuerySet[ConsentForm]:
    """The acting gemeente's submissions, newest first (the history)."""
    return (
        for_acting_municipality(ConsentForm.objects.submitted(), request)
        .select_related("period", "outbound_message")
        .prefetch_related("consents")
        .order_by("-submitted_at")
    )


def forms_of_acting_municipality(request: HttpRequest) -> QuerySet[ConsentForm]:
    """Every form (drafts too) the acting gemeente may open by id; others get a 404."""
    return for_acting_municipality(ConsentForm.objects.all(), request).select_related(
        "period", "municipality", "outbound_message"
    )


# --- IB overview ----------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    municipality: Municipality
    status: FormStatus
    latest: ConsentForm | None


def period_overview(
    period: ReportingPeriod, today: datetime.date | None = None
) -> list[OverviewRow]:
    """Every active gemeente's state for one period, in a handful of queries (for IB)."""
    today = today or timezone.localdate()
    reported = set(
        Report.objects.filter(period_code=period.code, kind=ReportKind.IN_ORDER).values_list(
            "municipality_id", flat=True
        )
    )
    latest: dict[int, ConsentForm] = {}
    for form in (
        ConsentForm.objects.submitted()
        .filter(period=period)
        .select_related("outbound_message")
        .prefetch_related("consents")
        .order_by("municipality_id", "-submitted_at")
    ):
        latest.setdefault(form.municipality_id, form)
    last_delivery = dict(
        DeliveredFile.objects.filter(reporting_period=period)
        .values("municipality_id")
        .annotate(last=Max("delivery__confirmed_at"))
        .values_list("municipality_id", "last")
    )
    rows = []
    for municipality in Municipality.objects.active(today).order_by("name"):
        form = latest.get(municipality.pk)
        status = decide_status(
            period=period,
            today=today,
            has_report=municipality.pk in reported,
            submitted_at=form.submitted_at if form else None,
            last_delivery_at=last_delivery.get(municipality.pk),
        )
        rows.append(OverviewRow(municipality, status, form))
    return rows
