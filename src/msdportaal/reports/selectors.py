"""CBS's verdict per delivered set: the one rule every page and e-mail uses.

The outcome comes from the report *kind* CBS states in the envelope (``functie``, mapped
in the admin, DESIGN.md §3.3), never from a PDF's contents::

    from msdportaal.reports.selectors import Outcome, period_outcomes

    for item in period_outcomes(municipality, period):
        item.status        # an Outcome (below)
        item.file          # the CSV in force for that set and period, or None
        item.report        # that CSV's own latest foutrapport / op-orde report, or None

The rule (:func:`outcome_of`):

``niet_aangeleverd``  no CSV in force for the set and period
``wacht_op_cbs``      a CSV, but no foutrapport or op-orde report about it yet
``op_orde``           its latest such report is "op orde"
``afgekeurd``         its latest such report is a foutrapport: deliver the CSV again

A report is about a CSV when it names that CSV (``Report.delivered_file``), or when it
names no CSV but the CSV's delivery (a report on a whole ZIP is about every CSV in it). So
a foutrapport on one CSV of a ZIP rejects exactly that set. Reports of the kind "overig"
say nothing about acceptance and do not change the outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from msdportaal.deliveries.models import DeliveredFile
from msdportaal.organisations.models import Municipality
from msdportaal.periods.models import DataSet, ReportingPeriod
from msdportaal.transport.models import MessageState, OutboundMessage
from msdportaal.transport.services import older_unfinished
from msdportaal.transport.status import ForwardingStatus

from .models import Report, ReportKind

#: The kinds that say whether CBS accepted a CSV.
DECISIVE = (ReportKind.ERROR, ReportKind.IN_ORDER)


class Outcome(StrEnum):
    NOT_DELIVERED = "niet_aangeleverd"
    WAITING = "wacht_op_cbs"
    IN_ORDER = "op_orde"
    REJECTED = "afgekeurd"


LABELS = {
    Outcome.NOT_DELIVERED: _("Niet aangeleverd"),
    Outcome.WAITING: _("Wacht op CBS"),
    Outcome.IN_ORDER: _("Op orde"),
    Outcome.REJECTED: _("Afgekeurd — opnieuw aanleveren"),
}
SHORT_LABELS = {
    Outcome.NOT_DELIVERED: _("niet aangeleverd"),
    Outcome.WAITING: _("wacht op CBS"),
    Outcome.IN_ORDER: _("op orde"),
    Outcome.REJECTED: _("afgekeurd"),
}
#: The msd-status modifier per outcome (never "ok" for something still to do).
TONES = {
    Outcome.NOT_DELIVERED: "warning",
    Outcome.WAITING: "neutral",
    Outcome.IN_ORDER: "ok",
    Outcome.REJECTED: "error",
}
#: A delivered file the outbox gave up on: CBS has not got it, so no report will come.
NOT_FORWARDED = _("Niet bij CBS aangekomen")
NOT_FORWARDED_SHORT = _("niet bij CBS aangekomen")
NOT_FORWARDED_REASON = _("niet bij CBS aangekomen: IB neemt contact met u op")
#: Why consent cannot be given for a set (consent page, server-side refusal).
CONSENT_REASONS = {
    Outcome.NOT_DELIVERED: _("niet aangeleverd voor deze periode"),
    Outcome.WAITING: _("wacht op het rapport van CBS"),
    Outcome.REJECTED: _("afgekeurd door CBS: lever het bestand opnieuw aan"),
}


@dataclass(frozen=True)
class SetOutcome:
    """One set in one period: the CSV in force, its own report and CBS's verdict."""

    data_set: DataSet
    period_code: str
    file: DeliveredFile | None
    report: Report | None
    status: Outcome

    @property
    def current(self) -> DeliveredFile | None:
        """The CSV in force (the overview's older name for ``file``; the API reads it)."""
        return self.file

    @property
    def never_reached_cbs(self) -> bool:
        """No report can come: the outbox gave up on the file (IB is on it). "Wacht op CBS"
        would be untrue, so the labels say so instead."""
        if self.status != Outcome.WAITING or self.file is None:
            return False
        message = self.file.delivery.outbound_message
        return message is not None and message.state == MessageState.FAILED

    @property
    def label(self) -> str:
        return str(NOT_FORWARDED if self.never_reached_cbs else LABELS[self.status])

    @property
    def short_label(self) -> str:
        """In a sentence, e.g. for a CSV that was replaced since ("eerder: afgekeurd")."""
        return str(NOT_FORWARDED_SHORT if self.never_reached_cbs else SHORT_LABELS[self.status])

    @property
    def tone(self) -> str:
        return "error" if self.never_reached_cbs else TONES[self.status]

    @property
    def code(self) -> str:
        """The outcome in the API: ``niet-aangeleverd``, ``wacht-op-cbs``, ``op-orde``,
        ``afgekeurd`` or ``niet-doorgestuurd``."""
        return "niet-doorgestuurd" if self.never_reached_cbs else self.status.replace("_", "-")

    @property
    def is_rejected(self) -> bool:
        return self.status == Outcome.REJECTED

    @property
    def can_consent(self) -> bool:
        """Consent rests on the set's *own* op-orde report."""
        return self.status == Outcome.IN_ORDER

    @property
    def consent_reason(self) -> str:
        if self.never_reached_cbs:
            return str(NOT_FORWARDED_REASON)
        return str(CONSENT_REASONS.get(self.status, ""))

    @property
    def forwarding(self) -> ForwardingStatus | None:
        return self.file.delivery.forwarding_status if self.file else None


def report_url(report: Report) -> str:
    """Where a link to one report goes: its row in the inbox (notifications, overview)."""
    return reverse("reports:inbox") + f"#rapport-{report.pk}"


def is_about(report: Report, file: DeliveredFile) -> bool:
    """Whether ``report`` is about ``file``: it names it, or names none but its delivery."""
    if report.delivered_file_id is not None:
        return report.delivered_file_id == file.pk
    return report.delivery_id is not None and report.delivery_id == file.delivery_id


def outcome_of(
    file: DeliveredFile | None, reports: Iterable[Report]
) -> tuple[Outcome, Report | None]:
    """The rule itself: the CSV's latest foutrapport or op-orde report decides."""
    if file is None:
        return Outcome.NOT_DELIVERED, None
    own = [r for r in reports if r.kind in DECISIVE and is_about(r, file)]
    if not own:
        return Outcome.WAITING, None
    latest = max(own, key=lambda r: (r.received_at, r.pk))
    status = Outcome.IN_ORDER if latest.kind == ReportKind.IN_ORDER else Outcome.REJECTED
    return status, latest


def _reports_about(files: Iterable[DeliveredFile]) -> dict[int, list[Report]]:
    """delivery id → its foutrapporten and op-orde reports, in one query."""
    delivery_ids = {f.delivery_id for f in files}
    by_delivery: dict[int, list[Report]] = defaultdict(list)
    if delivery_ids:
        for report in Report.objects.filter(delivery_id__in=delivery_ids, kind__in=DECISIVE):
            by_delivery[report.delivery_id].append(report)  # type: ignore[index]
    return by_delivery


def file_outcomes(files: Iterable[DeliveredFile]) -> dict[int, SetOutcome]:
    """DeliveredFile id → its outcome (for lists such as the history)."""
    files = list(files)
    by_delivery = _reports_about(files)
    result = {}
    for file in files:
        status, report = outcome_of(file, by_delivery.get(file.delivery_id, []))
        result[file.pk] = SetOutcome(file.data_set, file.period_code, file, report, status)
    return result


def files_in_force(period: ReportingPeriod) -> QuerySet[DeliveredFile]:
    """Every gemeente's CSVs in force (not replaced) for the period's sets."""
    return DeliveredFile.objects.filter(reporting_period=period, replaced_by__isnull=True)


def _expected(period: ReportingPeriod) -> list[tuple[DataSet, str]]:
    half_year = period.half_year
    return [
        (ds, code)
        for ds in DataSet.objects.all()
        if (code := ds.period_code(half_year)) is not None
    ]


def _set_outcome(
    data_set: DataSet,
    code: str,
    file: DeliveredFile | None,
    by_delivery: dict[int, list[Report]],
) -> SetOutcome:
    reports = by_delivery.get(file.delivery_id, []) if file is not None else []
    status, report = outcome_of(file, reports)
    return SetOutcome(data_set, code, file, report, status)


def period_outcomes(municipality: Municipality, period: ReportingPeriod) -> list[SetOutcome]:
    """Per set expected in the period (in the sets' order), what CBS made of it."""
    in_force: dict[tuple[int, str], DeliveredFile] = {}
    # "Waits for an earlier one" answered in the same query (no query per forwarding status).
    messages = OutboundMessage.objects.annotate(
        waits_for_earlier=older_unfinished(MessageState.RETRYING)
    )
    for file in (
        files_in_force(period)
        .filter(municipality=municipality)
        .select_related("delivery", "data_set")
        .prefetch_related(Prefetch("delivery__outbound_message", queryset=messages))
        .order_by("delivery__uploaded_at", "pk")
    ):
        in_force[(file.data_set_id, file.period_code)] = file  # the newest wins
    by_delivery = _reports_about(in_force.values())
    return [
        _set_outcome(ds, code, in_force.get((ds.pk, code)), by_delivery)
        for ds, code in _expected(period)
    ]


def outcomes_per_municipality(
    period: ReportingPeriod, municipality_ids: Iterable[int] = ()
) -> dict[int, list[SetOutcome]]:
    """Municipality id → :func:`period_outcomes`, in a few queries (IB's overview, the
    daily run): every gemeente that delivered something for the period, and every one in
    ``municipality_ids`` (with nothing delivered: every set "niet aangeleverd")."""
    expected = _expected(period)
    per_municipality: dict[int, dict[tuple[int, str], DeliveredFile]] = defaultdict(dict)
    all_files = list(
        files_in_force(period)
        .select_related("data_set", "delivery__outbound_message")
        .order_by("delivery__uploaded_at", "pk")
    )
    for municipality_id in municipality_ids:
        per_municipality.setdefault(municipality_id, {})
    for file in all_files:
        per_municipality[file.municipality_id][(file.data_set_id, file.period_code)] = file
    by_delivery = _reports_about(all_files)
    return {
        municipality_id: [
            _set_outcome(ds, code, in_force.get((ds.pk, code)), by_delivery)
            for ds, code in expected
        ]
        for municipality_id, in_force in per_municipality.items()
    }
