"""The overview: per open period and set, what CBS made of it and everything still to do."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from msdportaal.consent.selectors import FormState, FormStatus, form_state
from msdportaal.organisations.models import Municipality
from msdportaal.periods.models import ReportingPeriod
from msdportaal.periods.services import DeadlineWarning, deadline_warning, open_half_years
from msdportaal.reports.selectors import Outcome, SetOutcome, period_outcomes, report_url


@dataclass(frozen=True)
class Link:
    url: str
    text: str


@dataclass(frozen=True)
class Action:
    """One thing the gemeente still has to do (or must know), in warning or error style."""

    text: str
    links: tuple[Link, ...] = ()
    tone: str = "warning"  # warning | error (info only for "nothing to do")


CONSENT_TEXT = {
    FormStatus.CLOSED: _lazy("De periode is gesloten."),
    FormStatus.NOT_YET_OPEN: _lazy("Het toestemmingsformulier is nog niet open."),
    FormStatus.NO_REPORT: _lazy(
        "Het formulier opent zodra CBS een set van u op orde heeft bevonden."
    ),
    FormStatus.OPEN: _lazy("Het formulier staat klaar en is nog niet ingevuld."),
    FormStatus.SUBMITTED: _lazy("Toestemming doorgegeven."),
    FormStatus.REQUIRED_AGAIN: _lazy("Er is opnieuw een besluit nodig."),
}


@dataclass
class PeriodStatus:
    period: ReportingPeriod
    deadline: datetime.date
    days_left: int
    extended: bool = False
    sets: list[SetOutcome] = field(default_factory=list)
    consent: FormState | None = None
    actions: list[Action] = field(default_factory=list)
    #: What to expect when nothing is to be done (shown in neutral style).
    calm: str = ""
    warning: DeadlineWarning | None = None

    @property
    def consent_text(self) -> str:
        return str(CONSENT_TEXT[self.consent.status]) if self.consent else ""

    @property
    def missing(self) -> list[SetOutcome]:
        return [s for s in self.sets if s.status == Outcome.NOT_DELIVERED]

    @property
    def rejected(self) -> list[SetOutcome]:
        return [s for s in self.sets if s.status == Outcome.REJECTED]

    @property
    def next_step(self) -> Action | None:
        """The first open action, or what to expect: a one-line summary (the API)."""
        if self.actions:
            return self.actions[0]
        return Action(self.calm, tone="info") if self.calm else None

    @property
    def has_errors(self) -> bool:
        return any(a.tone == "error" for a in self.actions)


def _date(value: datetime.date) -> str:
    return formats.date_format(value, "j F Y")


def period_actions(
    municipality: Municipality,
    period: ReportingPeriod,
    sets: list[SetOutcome],
    consent: FormState | None,
    deadline: datetime.date,
    today: datetime.date,
) -> list[Action]:
    """Every open action for one period, most urgent first. Used by the overview and by
    the reminder e-mails, so both say the same."""
    upload = Link(reverse("deliveries:upload"), _("Bestanden aanleveren"))
    actions = []
    late = today > deadline
    for item in sets:
        if item.status == Outcome.REJECTED and item.file is not None:
            in_zip = (
                _(" (uit %(zip)s)") % {"zip": item.file.delivery.file_name}
                if item.file.position
                else ""
            )
            assert item.report is not None
            actions.append(
                Action(
                    _(
                        "CBS heeft %(name)s%(zip)s afgekeurd (%(set)s). Lees het foutrapport, "
                        "verbeter het bestand en lever %(name)s opnieuw aan."
                    )
                    % {"name": item.file.file_name, "zip": in_zip, "set": item.data_set.name},
                    (
                        Link(
                            report_url(item.report),
                            _("Foutrapport over %(name)s") % {"name": item.file.file_name},
                        ),
                        Link(
                            upload.url,
                            _("%(name)s opnieuw aanleveren") % {"name": item.file.file_name},
                        ),
                    ),
                    "error",
                )
            )
    for item in sets:
        if item.status == Outcome.NOT_DELIVERED:
            name = item.data_set.example_file_name(municipality.code, period.half_year)
            if late:
                text = _(
                    "Lever de %(set)s nog aan (%(name)s). De deadline van %(date)s is "
                    "verstreken; CBS beslist of het bestand nog wordt gebruikt."
                )
            else:
                text = _("Lever de %(set)s aan vóór of op %(date)s (%(name)s).")
            actions.append(
                Action(
                    text % {"set": item.data_set.name, "name": name, "date": _date(deadline)},
                    (Link(upload.url, _("%(set)s aanleveren") % {"set": item.data_set.name}),),
                    "error" if late else "warning",
                )
            )
    failed = {}
    for item in sets:
        if item.file is not None and item.forwarding and item.forwarding.tone == "error":
            failed[item.file.delivery_id] = item.file.delivery
    for delivery in failed.values():
        actions.append(
            Action(
                _(
                    "%(name)s (referentienummer %(ref)s) kon niet naar CBS worden doorgestuurd. "
                    "IB is ingelicht en neemt contact met u op; u hoeft het niet opnieuw aan te "
                    "leveren."
                )
                % {"name": delivery.file_name, "ref": delivery.reference},
                (
                    Link(
                        reverse("deliveries:detail", args=[delivery.reference]),
                        _("Aanlevering %(ref)s bekijken") % {"ref": delivery.reference},
                    ),
                ),
                "error",
            )
        )
    if consent is not None and consent.needs_action:
        consent_link = Link(
            reverse("consent:forms") + f"#periode-{period.code}",
            _("Toestemming geven voor %(code)s") % {"code": period.code},
        )
        if consent.status == FormStatus.REQUIRED_AGAIN:
            text = _(
                "Geef opnieuw aan of CBS de cijfers over %(code)s mag publiceren: er is na uw "
                "vorige besluit iets veranderd."
            )
        else:
            text = _("Geef aan of CBS de cijfers over %(code)s mag publiceren.")
        actions.append(Action(text % {"code": period.code}, (consent_link,), "warning"))
    return actions


def _calm(status: PeriodStatus) -> str:
    if any(s.status == Outcome.WAITING for s in status.sets):
        return _("Alles is aangeleverd. U krijgt een melding zodra CBS de rapporten stuurt.")
    return _("U hoeft voor deze periode nu niets te doen.")


def period_status(
    municipality: Municipality, half_year_period: ReportingPeriod, today: datetime.date
) -> PeriodStatus:
    period = half_year_period
    deadline = period.deadline_for(municipality)
    status = PeriodStatus(
        period, deadline, (deadline - today).days, extended=deadline != period.deadline
    )
    status.sets = period_outcomes(municipality, period)
    status.consent = form_state(municipality, period, today, status.sets)
    status.actions = period_actions(
        municipality, period, status.sets, status.consent, deadline, today
    )
    if not status.actions:
        status.calm = _calm(status)
    if status.missing or status.rejected:  # only while something is still to be delivered
        status.warning = deadline_warning(municipality, period, today, deadline)
    return status


def period_overview(request: HttpRequest, today: datetime.date | None = None) -> list[PeriodStatus]:
    today = today or timezone.localdate()
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    return [
        period_status(municipality, ReportingPeriod.objects.for_half_year(half_year), today)
        for half_year in open_half_years(today)
    ]
