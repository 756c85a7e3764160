"""The overview: per open period and set, what happened and what to do next."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from msdportaal.consent.selectors import FormState, FormStatus, form_state
from msdportaal.deliveries.models import DeliveredFile
from msdportaal.deliveries.selectors import delivered_files
from msdportaal.organisations.scoping import for_acting_municipality
from msdportaal.periods.models import DataSet, ReportingPeriod
from msdportaal.periods.services import open_half_years
from msdportaal.reports.models import Report, ReportKind
from msdportaal.transport.status import ForwardingStatus


@dataclass(frozen=True)
class SetStatus:
    data_set: DataSet
    period_code: str
    current: DeliveredFile | None
    report: Report | None

    @property
    def forwarding(self) -> ForwardingStatus | None:
        return self.current.delivery.forwarding_status if self.current else None


@dataclass(frozen=True)
class NextStep:
    text: str
    link: str = ""
    link_text: str = ""


CONSENT_TEXT = {
    FormStatus.CLOSED: _lazy("De periode is gesloten."),
    FormStatus.NOT_YET_OPEN: _lazy("Het toestemmingsformulier is nog niet open."),
    FormStatus.NO_REPORT: _lazy(
        "Het formulier opent zodra CBS uw gegevens op orde heeft bevonden."
    ),
    FormStatus.OPEN: _lazy("Het formulier staat klaar en is nog niet ingevuld."),
    FormStatus.SUBMITTED: _lazy("Toestemming gegeven."),
    FormStatus.REQUIRED_AGAIN: _lazy("Na een correctie is opnieuw toestemming nodig."),
}


@dataclass
class PeriodStatus:
    period: ReportingPeriod
    deadline: datetime.date
    days_left: int
    sets: list[SetStatus] = field(default_factory=list)
    next_step: NextStep | None = None
    consent: FormState | None = None

    @property
    def consent_text(self) -> str:
        return str(CONSENT_TEXT[self.consent.status]) if self.consent else ""

    @property
    def missing(self) -> list[SetStatus]:
        return [s for s in self.sets if s.current is None]


def _latest_reports(request: HttpRequest) -> dict[int, Report]:
    """delivery id → its newest report."""
    reports = for_acting_municipality(Report.objects.filter(delivery__isnull=False), request)
    latest: dict[int, Report] = {}
    for report in reports.order_by("received_at"):
        latest[report.delivery_id] = report  # type: ignore[index]
    return latest


def _next_step(status: PeriodStatus, today: datetime.date) -> NextStep:
    if status.missing:
        names = ", ".join(s.data_set.name for s in status.missing)
        if today <= status.deadline:
            text = _("Lever nog aan vóór %(date)s: %(sets)s.") % {
                "date": status.deadline.strftime("%d-%m-%Y"),
                "sets": names,
            }
        else:
            text = _(
                "De deadline is verstreken, maar u kunt nog aanleveren: %(sets)s. CBS beslist of "
                "het nog wordt gebruikt."
            ) % {"sets": names}
        return NextStep(text, reverse("deliveries:upload"), _("Bestanden aanleveren"))
    errors = [s for s in status.sets if s.report and s.report.kind == ReportKind.ERROR]
    if errors:
        return NextStep(
            _(
                "CBS vond fouten in: %(sets)s. Bekijk het foutrapport en lever een gecorrigeerd "
                "bestand "
                "aan."
            )
            % {"sets": ", ".join(s.data_set.name for s in errors)},
            reverse("reports:inbox"),
            _("Naar de rapporten"),
        )
    if any(s.forwarding and s.forwarding.tone == "error" for s in status.sets):
        return NextStep(
            _(
                "Een bestand kon niet naar CBS worden doorgestuurd. IB is ingelicht en neemt "
                "contact met u op; u hoeft zelf niets te doen."
            )
        )
    if status.consent is not None and status.consent.needs_action:
        return NextStep(
            _("Geef aan of CBS de cijfers mag publiceren."),
            reverse("consent:forms"),
            _("Naar het toestemmingsformulier"),
        )
    if any(s.report is None for s in status.sets):
        return NextStep(
            _("Alles is aangeleverd. U krijgt een melding zodra CBS de rapporten stuurt.")
        )
    return NextStep(_("U hoeft voor deze periode nu niets te doen."))


def period_overview(request: HttpRequest, today: datetime.date | None = None) -> list[PeriodStatus]:
    today = today or timezone.localdate()
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    data_sets = list(DataSet.objects.all())
    in_force = {
        (f.data_set_id, f.period_code): f
        for f in delivered_files(request).filter(replaced_by__isnull=True)
    }
    reports = _latest_reports(request)
    result = []
    for half_year in open_half_years(today):
        period = ReportingPeriod.objects.for_half_year(half_year)
        deadline = period.deadline_for(municipality)
        status = PeriodStatus(period, deadline, (deadline - today).days)
        for ds in data_sets:
            code = ds.period_code(half_year)
            if code is None:
                continue
            current = in_force.get((ds.pk, code))
            report = reports.get(current.delivery_id) if current else None
            status.sets.append(SetStatus(ds, code, current, report))
        status.consent = form_state(municipality, period, today)
        status.next_step = _next_step(status, today)
        result.append(status)
    return result
