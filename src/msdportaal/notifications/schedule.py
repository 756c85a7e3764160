"""The calendar's events: what is due today (Europe/Amsterdam), for whom."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import Count
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from msdportaal.consent.selectors import FormStatus, form_state
from msdportaal.deliveries.models import DeliveredFile
from msdportaal.organisations.models import Municipality
from msdportaal.overview.selectors import period_actions
from msdportaal.periods.models import DataSet, ReportingPeriod
from msdportaal.periods.services import generate_periods, open_half_years
from msdportaal.reports.models import Report, ReportKind
from msdportaal.reports.selectors import Outcome, outcomes_per_municipality
from msdportaal.transport.models import MessageState, OutboundMessage

from .models import Contact, Event, NotificationSettings
from .services import Message, notify, send_emails


def _date(value: datetime.date) -> str:
    return formats.date_format(value, "j F Y")


def expected_codes(period: ReportingPeriod) -> dict[int, str]:
    """data set id → the period code it is delivered under in this period."""
    half_year = period.half_year
    return {ds.pk: code for ds in DataSet.objects.all() if (code := ds.period_code(half_year))}


def missing_sets(period: ReportingPeriod) -> dict[int, list[str]]:
    """municipality id → names of the sets still missing for this period."""
    expected = expected_codes(period)
    names = {ds.pk: ds.name for ds in DataSet.objects.filter(pk__in=expected)}
    delivered = set(
        DeliveredFile.objects.filter(
            period_code__in=set(expected.values()), replaced_by__isnull=True
        )
        .values_list("municipality_id", "data_set_id")
        .distinct()
    )
    result: dict[int, list[str]] = defaultdict(list)
    for municipality_id in Municipality.objects.active().values_list("pk", flat=True):
        for data_set_id in expected:
            if (municipality_id, data_set_id) not in delivered:
                result[municipality_id].append(names[data_set_id])
    return dict(result)


def window_opens(period: ReportingPeriod, today: datetime.date) -> int:
    if period.window_opens != today:
        return 0
    message = Message(
        Event.WINDOW_OPENS,
        f"window:{period.code}",
        _("Aanleveren voor %(code)s kan vanaf vandaag") % {"code": period.code},
        _(
            "Vanaf vandaag, %(opens)s, kunt u de bestanden voor verslagperiode %(label)s "
            "aanleveren. "
            "De deadline is %(deadline)s."
        )
        % {
            "opens": _date(period.window_opens),
            "label": period.half_year.label,
            "deadline": _date(period.deadline),
        },
        reverse("deliveries:upload"),
    )
    municipalities = list(Municipality.objects.active().prefetch_related("contacts"))
    for municipality in municipalities:
        notify(municipality, message)
    return len(municipalities)


def deadline_reminders(period: ReportingPeriod, today: datetime.date, days: list[int]) -> int:
    """Gemeenten with a set still to deliver: missing, or rejected by CBS (a foutrapport).
    The e-mail lists every open action for the period, as the overview's "Wat u nu moet
    doen" does (overview.selectors.period_actions). An extension moves their reminders."""
    latest = max([period.deadline, *period.extensions.values_list("deadline", flat=True)])
    if not days or today > latest or (period.deadline - today).days > max(days):
        return 0
    active = list(Municipality.objects.active().values_list("pk", flat=True))
    outcomes = outcomes_per_municipality(period, active)
    to_deliver = {
        m
        for m in active
        if any(s.status in (Outcome.NOT_DELIVERED, Outcome.REJECTED) for s in outcomes[m])
    }
    if not to_deliver:
        return 0
    extensions = {e.municipality_id: e.deadline for e in period.extensions.all()}
    sent = 0
    for municipality in Municipality.objects.filter(pk__in=to_deliver).prefetch_related("contacts"):
        deadline = max(period.deadline, extensions.get(municipality.pk, period.deadline))
        left = (deadline - today).days
        if left not in days:
            continue
        sets = outcomes[municipality.pk]
        actions = period_actions(
            municipality,
            period,
            sets,
            form_state(municipality, period, today, sets),
            deadline,
            today,
        )
        notify(
            municipality,
            Message(
                Event.DEADLINE_REMINDER,
                f"reminder:{period.code}:{deadline.isoformat()}:{left}",
                _("Nog %(days)d dag(en) tot de deadline van %(code)s")
                % {"days": left, "code": period.code},
                _(
                    "De deadline voor verslagperiode %(label)s is %(deadline)s. "
                    "Wat %(name)s nog moet doen:"
                )
                % {
                    "label": period.half_year.label,
                    "deadline": _date(deadline),
                    "name": municipality.name,
                }
                + "".join(f"\n- {action.text}" for action in actions),
                reverse("overview:index"),
            ),
        )
        sent += 1
    return sent


def consent_for(
    municipality: Municipality,
    period: ReportingPeriod,
    today: datetime.date,
    reminder_days: list[int],
) -> bool:
    """One gemeente's consent events for one period; True when it was told something."""
    state = form_state(municipality, period, today)
    link = reverse("consent:forms") + f"#periode-{period.code}"
    sets = ", ".join(s.data_set.name for s in state.answerable)
    if state.status == FormStatus.OPEN and state.report is not None:
        opened_on = max(period.consent_opens, timezone.localdate(state.report.received_at))
        notify(
            municipality,
            Message(
                Event.CONSENT_OPEN,
                f"consent_open:{period.code}",
                _("Geef toestemming voor %(code)s") % {"code": period.code},
                _(
                    "CBS heeft gegevens van %(name)s over verslagperiode %(label)s op orde "
                    "bevonden (%(sets)s). Geef per set aan of CBS de cijfers mag publiceren."
                )
                % {"name": municipality.name, "label": period.half_year.label, "sets": sets},
                link,
            ),
        )
        waited = (today - opened_on).days
        if waited in reminder_days:
            notify(
                municipality,
                Message(
                    Event.CONSENT_REMINDER,
                    f"consent_reminder:{period.code}:{waited}",
                    _("Herinnering: toestemming voor %(code)s") % {"code": period.code},
                    _(
                        "Het toestemmingsformulier voor verslagperiode %(label)s staat sinds "
                        "%(date)s klaar en is nog niet ingevuld. U kunt toestemming geven "
                        "voor: %(sets)s."
                    )
                    % {"label": period.half_year.label, "date": _date(opened_on), "sets": sets},
                    link,
                ),
            )
        return True
    if state.status == FormStatus.REQUIRED_AGAIN and state.latest is not None:
        notify(
            municipality,
            Message(
                Event.CONSENT_REQUIRED_AGAIN,
                f"consent_again:{period.code}:{state.latest.reference}",
                _("Opnieuw toestemming nodig voor %(code)s") % {"code": period.code},
                _(
                    "Na uw toestemming (%(ref)s) is er een correctie aangeleverd voor "
                    "verslagperiode %(label)s. Vul het toestemmingsformulier opnieuw in."
                )
                % {"ref": state.latest.reference, "label": period.half_year.label},
                link,
            ),
        )
        return True
    return False


def consent_events(today: datetime.date, reminder_days: list[int]) -> int:
    """The consent form opens (for a gemeente once it has an "op orde" report), reminders
    while it is not filled in, and "required again" after a correction delivery."""
    sent = 0
    for half_year in open_half_years(today):
        period = ReportingPeriod.objects.for_half_year(half_year)
        if today < period.consent_opens:
            continue
        # A superset (an op-orde report about a CSV of the period); form_state decides.
        with_report = Municipality.objects.filter(
            pk__in=Report.objects.filter(
                kind=ReportKind.IN_ORDER, delivery__files__reporting_period=period
            ).values("municipality_id")
        ).prefetch_related("contacts")
        sent += sum(consent_for(m, period, today, reminder_days) for m in with_report)
    return sent


def ib_digest(today: datetime.date, config: NotificationSettings) -> bool:
    """Once a day for IB: failed messages, gemeenten behind as a deadline nears, and
    gemeenten nobody would hear a notification at."""
    if not config.digest_email:
        return False
    failed = list(
        OutboundMessage.objects.filter(state=MessageState.FAILED).select_related("municipality")
    )
    behind: list[str] = []
    for half_year in open_half_years(today):
        period = ReportingPeriod.objects.for_half_year(half_year)
        if 0 <= (period.deadline - today).days <= config.digest_days_before_deadline:
            names = dict(Municipality.objects.values_list("pk", "name"))
            behind += [
                f"{names[m]} ({period.code}): {', '.join(sets)}"
                for m, sets in sorted(missing_sets(period).items(), key=lambda i: names[i[0]])
            ]
    without_contacts = list(
        Municipality.objects.active()
        .annotate(n=Count("contacts"))
        .filter(n=0)
        .values_list("name", flat=True)
    )
    lines = [_("Mislukte berichten aan RINIS: %(n)d") % {"n": len(failed)}]
    lines += [
        f"- {m.municipality}: {m.referentienummer_bericht} {m.bestandsnaam} ({m.last_error[:120]})"
        for m in failed
    ]
    lines += [
        "",
        _("Gemeenten die nog niet (alles) hebben aangeleverd terwijl de deadline nadert: %(n)d")
        % {"n": len(behind)},
    ]
    lines += [f"- {line}" for line in behind]
    lines += [
        "",
        _("Gemeenten zonder contactpersoon voor meldingen: %(n)d") % {"n": len(without_contacts)},
    ]
    lines += [f"- {name}" for name in without_contacts[:400]]
    message = Message(
        Event.IB_DIGEST,
        f"digest:{today.isoformat()}",
        _("Dagelijks overzicht %(date)s") % {"date": _date(today)},
        "\n".join(lines),
    )
    ib = Contact(name="IB functioneel beheer", email=config.digest_email, events=[])
    send_emails(message, [ib], None)
    return True


def run_daily(today: datetime.date | None = None) -> dict[str, int]:
    """Everything due today. Safe to run any number of times a day."""
    today = today or timezone.localdate()
    config = NotificationSettings.get_solo()
    generate_periods(today)
    counts = {"window_opens": 0, "reminders": 0}
    for period in ReportingPeriod.objects.filter(
        window_opens__lte=today, window_opens__gte=today - datetime.timedelta(days=400)
    ):
        counts["window_opens"] += window_opens(period, today)
        counts["reminders"] += deadline_reminders(period, today, config.reminder_day_list)
    counts["consent"] = consent_events(today, config.consent_reminder_day_list)
    counts["digest"] = int(ib_digest(today, config))
    return counts
