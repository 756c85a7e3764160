"""Reading consent: may a gemeente fill in the form for a period, and what did it decide.

The public API for other apps (notifications) is :func:`form_state`::

    from msdportaal.consent.selectors import FormStatus, form_state

    state = form_state(municipality, period, today)  # today: a date, default today
    if state.needs_action: ...  # OPEN or REQUIRED_AGAIN: remind the gemeente
    state.status       # a FormStatus (see below)
    state.latest       # the submission in force (ConsentForm) or None
    state.report       # the most recent own "op orde" report of an answerable set, or None
    state.sets         # per set of the period: its SetOutcome (reports.selectors)
    state.answerable   # the sets whose *own* latest report is op orde: only these are asked
    state.correction   # REQUIRED_AGAIN: the DeliveredFile delivered after the consent
    state.new_sets     # REQUIRED_AGAIN: answerable sets the submission in force has no answer for
    state.opens_on     # ReportingPeriod.consent_opens

Consent rests on each set's own evidence: a set can be answered only when it was delivered
for the period and its own latest report (foutrapport or op orde, reports.selectors) is
"op orde". Another set's op-orde report, or a report about the period in general, never
counts for it.

The rule (DESIGN.md §3.3, requirements "Opt-in consent request"), first match wins:

``closed``          IB closed the period, or it is older than the previous period
``not_yet_open``    before ``ReportingPeriod.consent_opens`` (or a future period)
``no_report``       no set of the period can be answered (none is op orde on its own report)
``open``            never submitted
``required_again``  a delivery for the period was confirmed after the latest submission
                    (a correction), or a set became answerable that the submission has no
                    answer for: the gemeente must decide again
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
from msdportaal.reports.models import Report
from msdportaal.reports.selectors import SetOutcome, outcomes_per_municipality, period_outcomes

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
    sets: tuple[SetOutcome, ...] = ()
    new_sets: tuple[SetOutcome, ...] = ()

    @property
    def answerable(self) -> list[SetOutcome]:
        return [s for s in self.sets if s.can_consent]

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
    unanswered: bool = False,
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
    if unanswered:
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


def latest_own_report(outcomes: list[SetOutcome]) -> Report | None:
    """The most recent op-orde report among the sets that can be answered."""
    reports = [o.report for o in outcomes if o.can_consent and o.report is not None]
    return max(reports, key=lambda r: (r.received_at, r.pk), default=None)


def unanswered_sets(outcomes: list[SetOutcome], latest: ConsentForm | None) -> list[SetOutcome]:
    """Answerable sets the submission in force has no answer for."""
    if latest is None:
        return []
    answered = {c.data_set_id for c in latest.consents.all()}
    return [o for o in outcomes if o.can_consent and o.data_set.pk not in answered]


def form_state(
    municipality: Municipality,
    period: ReportingPeriod,
    today: datetime.date | None = None,
    outcomes: list[SetOutcome] | None = None,
) -> FormState:
    """Whether ``municipality`` can (or must) fill in the consent form for ``period``.

    ``outcomes``: the period's :func:`~msdportaal.reports.selectors.period_outcomes`, if
    the caller has them already (the overview)."""
    today = today or timezone.localdate()
    latest = latest_submission(municipality, period)
    if outcomes is None:
        outcomes = period_outcomes(municipality, period)
    report = latest_own_report(outcomes)
    new_sets = unanswered_sets(outcomes, latest)
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
        unanswered=bool(new_sets),
    )
    again = status == FormStatus.REQUIRED_AGAIN
    return FormState(
        municipality=municipality,
        period=period,
        status=status,
        latest=latest,
        report=report,
        correction=correction if again else None,
        sets=tuple(outcomes),
        new_sets=tuple(new_sets) if again else (),
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
    """One set of a period, with its own outcome: the report the decision rests on, or why
    it cannot be answered (not delivered, waiting for CBS, rejected)."""

    outcome: SetOutcome

    @property
    def data_set(self) -> DataSet:
        return self.outcome.data_set

    @property
    def period_code(self) -> str:
        return self.outcome.period_code

    @property
    def report(self) -> Report | None:
        """This set's own latest foutrapport or op-orde report."""
        return self.outcome.report

    @property
    def can_answer(self) -> bool:
        return self.outcome.can_consent

    @property
    def reason(self) -> str:
        return self.outcome.consent_reason

    @property
    def question(self) -> str:
        return self.data_set.consent_question or gettext(
            "Geeft u CBS toestemming om de cijfers van uw gemeente over de %(set)s te publiceren?"
        ) % {"set": self.data_set.name}


def set_questions(municipality: Municipality, period: ReportingPeriod) -> list[SetQuestion]:
    """Every set of the period (yearly cost sets only in HJ02, as ``YYYYJJ00``), each with
    its own outcome; only those with ``can_answer`` are asked."""
    return [SetQuestion(outcome) for outcome in period_outcomes(municipality, period)]


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
    outcomes = outcomes_per_municipality(period)
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
        sets = outcomes.get(municipality.pk, [])
        status = decide_status(
            period=period,
            today=today,
            has_report=any(s.can_consent for s in sets),
            submitted_at=form.submitted_at if form else None,
            last_delivery_at=last_delivery.get(municipality.pk),
            unanswered=bool(unanswered_sets(sets, form)),
        )
        rows.append(OverviewRow(municipality, status, form))
    return rows
