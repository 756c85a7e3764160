"""Notifications subscribes to the events of the other apps (DESIGN.md §6)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from msdportaal.consent.emails import confirmation_email
from msdportaal.consent.models import ConsentForm
from msdportaal.consent.services import consent_submitted
from msdportaal.deliveries.emails import receipt_email
from msdportaal.deliveries.models import UploadBatch
from msdportaal.deliveries.signals import batch_confirmed
from msdportaal.organisations.signals import profile_completed
from msdportaal.periods.models import ReportingPeriod
from msdportaal.reports.models import Report, ReportKind
from msdportaal.reports.selectors import report_url
from msdportaal.reports.services import report_received
from msdportaal.transport.emails import failure_alert_email
from msdportaal.transport.models import OutboundMessage
from msdportaal.transport.signals import message_failed

from .emails import queue_composed
from .models import Event, NotificationSettings
from .schedule import consent_for
from .services import Message, ensure_contact_for, notify


@receiver(profile_completed)
def _contact_for_new_user(sender: Any, user: Any, municipalities: Any, **kwargs: Any) -> None:
    """A contact for the gemeenten of the login with which the profile was filled in."""
    ensure_contact_for(user, municipalities)


@receiver(batch_confirmed)
def _receipt(sender: Any, batch: UploadBatch, **kwargs: Any) -> None:
    """Inside the confirm's transaction: the receipt exists exactly when the batch does."""
    queue_composed(receipt_email(batch), batch.municipality)


@receiver(consent_submitted)
def _consent_confirmation(sender: Any, form: ConsentForm, **kwargs: Any) -> None:
    """Inside the submission's transaction, like the receipt."""
    queue_composed(confirmation_email(form), form.municipality)


@receiver(message_failed)
def _failure_alert(sender: Any, message: OutboundMessage, **kwargs: Any) -> None:
    """Inside the transaction that records the failure: IB's alert commits with it."""
    queue_composed(failure_alert_email(message), message.municipality)


@receiver(report_received)
def _new_report(sender: Any, report: Report, **kwargs: Any) -> None:
    """Inside the transaction that stores the report: the notification and its e-mails
    commit with it (and a failure here makes RINIS deliver the report again)."""
    files = report.files
    if files:
        about = _(" over %(sets)s (aanlevering %(ref)s)") % {
            "sets": ", ".join(f"{f.data_set.name}, {f.file_name}" for f in files),
            "ref": report.delivery.reference if report.delivery else "",
        }
    else:
        about = ""
    notify(
        report.municipality,
        Message(
            Event.REPORT,
            f"report:{report.pk}",
            _("Rapport van CBS ontvangen: %(kind)s") % {"kind": report.get_kind_display()},
            _(
                "CBS heeft een rapport gestuurd%(about)s: %(name)s. "
                "U vindt het in het portaal onder "
                "Rapporten."
            )
            % {"about": about, "name": report.file_name},
            report_url(report),
        ),
    )
    if report.kind == ReportKind.IN_ORDER:
        # An "op orde" report may open the consent form right away, for every period of
        # the CSVs it is about (a ZIP may hold two).
        periods = {f.reporting_period_id for f in files}
        for period in ReportingPeriod.objects.filter(pk__in=periods):
            consent_for(
                report.municipality,
                period,
                timezone.localdate(),
                NotificationSettings.get_solo().consent_reminder_day_list,
            )
