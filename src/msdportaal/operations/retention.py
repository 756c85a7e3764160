"""Retention: file contents go after their term; the metadata and the audit trail stay.

- A delivered file: ``MSD_RETENTION_DELIVERED_DAYS`` after RINIS accepted it (Bv03,
  ``OutboundMessage.delivered_at``). A file RINIS has not accepted is never removed,
  however old: it still has to go out (or IB resends it).
- A consent CSV: like a delivered file, ``MSD_RETENTION_DELIVERED_DAYS`` after RINIS
  accepted it. The form, its answers and who gave them stay: only the file goes.
- A CBS report: ``MSD_RETENTION_REPORT_DAYS`` after it arrived.

Idempotent and safe to run concurrently: the file is removed first (removing a file that
is already gone is fine), then ``purged_at`` is set with a conditional UPDATE, and only
the run that set it writes the audit entry. A crash in between leaves the row unmarked,
and the next run finishes the job.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import structlog
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.consent.models import ConsentForm
from msdportaal.deliveries.models import Delivery
from msdportaal.reports.models import Report
from msdportaal.transport.models import MessageState, OutboundMessage

logger = structlog.stdlib.get_logger(__name__)


@dataclass
class PurgeResult:
    deliveries: list[str] = field(default_factory=list)  # references
    reports: list[int] = field(default_factory=list)  # primary keys
    consent_forms: list[str] = field(default_factory=list)  # references

    @property
    def total(self) -> int:
        return len(self.deliveries) + len(self.reports) + len(self.consent_forms)


def delivery_cutoff(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=settings.MSD_RETENTION_DELIVERED_DAYS)


def report_cutoff(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=settings.MSD_RETENTION_REPORT_DAYS)


def expired_deliveries(now: datetime.datetime):
    return Delivery.objects.filter(
        purged_at__isnull=True,
        outbound_message__state=MessageState.DELIVERED,
        outbound_message__delivered_at__isnull=False,
        outbound_message__delivered_at__lte=delivery_cutoff(now),
    ).select_related("municipality", "outbound_message")


def expired_consent_forms(now: datetime.datetime):
    return (
        ConsentForm.objects.filter(
            purged_at__isnull=True,
            submitted_at__isnull=False,
            outbound_message__state=MessageState.DELIVERED,
            outbound_message__delivered_at__isnull=False,
            outbound_message__delivered_at__lte=delivery_cutoff(now),
        )
        .exclude(stored_name="")
        .select_related("municipality", "period", "outbound_message")
    )


def expired_reports(now: datetime.datetime):
    return Report.objects.filter(purged_at__isnull=True, received_at__lte=report_cutoff(now))


def _still_needed_for_sending(stored_name: str) -> bool:
    """Belt and braces: no message RINIS has not accepted may lose its file."""
    return (
        OutboundMessage.objects.filter(stored_name=stored_name)
        .exclude(state=MessageState.DELIVERED)
        .exists()
    )


def _purge_sent_file(item: Delivery | ConsentForm, what: str, now: datetime.datetime) -> bool:
    """A file RINIS accepted (a delivery or a consent CSV): the file goes, the row stays."""
    if _still_needed_for_sending(item.stored_name):
        logger.warning("retention: file still needed for sending, kept", reference=item.reference)
        return False
    default_storage.delete(item.stored_name)
    with transaction.atomic():
        marked = type(item).objects.filter(pk=item.pk, purged_at__isnull=True).update(purged_at=now)
        if marked:
            message = item.outbound_message
            record(
                AuditAction.RETENTION_PURGE,
                municipality=item.municipality,
                target=item,
                message=f"{what} {item.reference} {item.file_name}: bestand "
                "verwijderd (bewaartermijn)",
                file_name=item.file_name,
                size=item.size,
                sha256=item.sha256,
                delivered_at=message.delivered_at.isoformat() if message else None,
                retention_days=settings.MSD_RETENTION_DELIVERED_DAYS,
            )
    return bool(marked)


def purge_delivery(delivery: Delivery, now: datetime.datetime) -> bool:
    return _purge_sent_file(delivery, "aanlevering", now)


def purge_consent_form(form: ConsentForm, now: datetime.datetime) -> bool:
    return _purge_sent_file(form, "toestemming", now)


def purge_report(report: Report, now: datetime.datetime) -> bool:
    default_storage.delete(report.stored_name)
    with transaction.atomic():
        marked = Report.objects.filter(pk=report.pk, purged_at__isnull=True).update(purged_at=now)
        if marked:
            record(
                AuditAction.RETENTION_PURGE,
                municipality=report.municipality,
                target=report,
                message=f"rapport {report.file_name}: bestand verwijderd (bewaartermijn)",
                file_name=report.file_name,
                size=report.size,
                sha256=report.sha256,
                received_at=report.received_at.isoformat(),
                retention_days=settings.MSD_RETENTION_REPORT_DAYS,
            )
    return bool(marked)


def purge_expired(now: datetime.datetime | None = None) -> PurgeResult:
    now = now or timezone.now()
    result = PurgeResult()
    # Lists, not open cursors: each purge writes to the rows being selected.
    for delivery in list(expired_deliveries(now)):
        if purge_delivery(delivery, now):
            result.deliveries.append(delivery.reference)
    for form in list(expired_consent_forms(now)):
        if purge_consent_form(form, now):
            result.consent_forms.append(form.reference)
    for report in list(expired_reports(now).select_related("municipality")):
        if purge_report(report, now):
            result.reports.append(report.pk)
    logger.info(
        "retention: purged",
        deliveries=len(result.deliveries),
        consent_forms=len(result.consent_forms),
        reports=len(result.reports),
    )
    return result
