"""Storing what CBS sends, and handing it out to the gemeente it is for."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.dispatch import Signal
from django.http import FileResponse
from django.utils import timezone

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.core.storage import ensure_upload_temp_dir, open_stored
from msdportaal.deliveries.models import DeliveredFile, Delivery
from msdportaal.transport.gb_fetch import GbFetchError, fetch
from msdportaal.transport.inbound import HandlerRefused
from msdportaal.transport.stuf import GbMetadataError

from .models import Report, ReportKind, ReportKindMapping

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.transport.inbound import Delivered

#: Sent *inside* the transaction that stores the report (``report``): notifications writes
#: the notification and queues its e-mails there, so they commit with the report and
#: survive whatever happens after the commit. Receivers only write rows; a receiver that
#: raises undoes the report, which RINIS then delivers again (Fo03 StUF046).
report_received = Signal()

_SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")


def kind_for(functie: str) -> ReportKind:
    mapping = ReportKindMapping.objects.filter(functie=functie).first()
    return ReportKind(mapping.kind) if mapping else ReportKind.OTHER


def linked_target(delivered: Delivered) -> tuple[Delivery | None, DeliveredFile | None]:
    """What the report is about: our delivery, and the one CSV when CBS named it.

    A Du01 points at our message (``crossRefnummer``) or our reference
    (``crossRefnummerBericht``): a delivery's reference means the whole delivery (every
    CSV of a ZIP), a CSV's reference inside a ZIP (``<ref>-n``) that one CSV. A loose
    CSV's delivery is that CSV. Only a delivery of the same gemeente counts: a report
    never links across gemeenten, and a named CSV must belong to the delivery that
    ``crossRefnummer`` points at, if it points at one.
    """
    message, municipality = delivered.message, delivered.municipality
    deliveries = Delivery.objects.filter(municipality=municipality)
    delivery = None
    if message.cross_refnummer:
        delivery = deliveries.filter(
            outbound_message__referentienummer=message.cross_refnummer
        ).first()
    named = message.cross_refnummer_bericht
    file = None
    if named:
        file = (
            DeliveredFile.objects.filter(municipality=municipality, reference=named)
            .select_related("delivery")
            .first()
        )
        if file is not None and delivery is not None and file.delivery_id != delivery.pk:
            file = None  # the two pointers disagree: trust the message id, the whole delivery
        if delivery is None:
            delivery = file.delivery if file else deliveries.filter(reference=named).first()
    if delivery is not None and file is None:
        files = list(delivery.files.all()[:2])
        file = files[0] if len(files) == 1 else None
    return delivery, file


def store_report(delivered: Delivered) -> None:
    """The inbound handler: decode the file in chunks to storage, then record it."""
    message = delivered.message
    ensure_upload_temp_dir()
    upload = TemporaryUploadedFile("report", message.content_type, 0, None)
    try:
        metadata = message.gb_metadata()
    except GbMetadataError as exc:
        raise HandlerRefused(
            "StUF055", f"Ongeldige Grote Berichten-verwijzing: {exc}", "client"
        ) from exc
    if metadata is not None:
        # Grote Berichten: RINIS announced the file; fetch it before we answer Bv03.
        try:
            sha256 = fetch(metadata, upload)
        except GbFetchError as exc:
            raise HandlerRefused(
                "StUF046", f"Het bestand kon niet worden opgehaald: {exc}"
            ) from exc
        size, content_type = metadata.size, metadata.content_type
        name = message.bestandsnaam or metadata.filename
    else:
        digest = hashlib.sha256()
        size = 0
        for chunk in message.iter_payload():
            digest.update(chunk)
            size += len(chunk)
            upload.write(chunk)
        upload.seek(0)
        sha256, content_type, name = digest.hexdigest(), message.content_type, message.bestandsnaam
    now = timezone.now()
    stored_name = default_storage.save(f"reports/{now:%Y/%m}/{uuid.uuid4().hex}", upload)
    upload.close()
    try:
        delivery, file = linked_target(delivered)
        if file is not None:
            period_codes = [file.reporting_period.code]
        elif delivery is not None:
            period_codes = sorted(
                set(delivery.files.values_list("reporting_period__code", flat=True))
            )
        else:
            period_codes = []
        report = Report.objects.create(
            municipality=delivered.municipality,
            kind=kind_for(message.functie),
            functie=message.functie,
            delivery=delivery,
            delivered_file=file,
            period_code=period_codes[0] if len(period_codes) == 1 else "",
            file_name=_SAFE_NAME.sub("_", name or "rapport.pdf")[:255],
            content_type=content_type or "application/pdf",
            size=size,
            sha256=sha256,
            stored_name=stored_name,
            received=delivered.received,
        )
        report_received.send(Report, report=report)  # the notification commits with it
    except Exception:
        default_storage.delete(stored_name)  # no row points at it: don't keep the file
        raise


def mark_read(report: Report) -> None:
    if report.first_read_at is None:
        Report.objects.filter(pk=report.pk, first_read_at__isnull=True).update(
            first_read_at=timezone.now()
        )


def download_response(request: HttpRequest, report: Report, *, via: str = "") -> FileResponse:
    """The report byte for byte as CBS sent it (always as a PDF attachment: never rendered
    by the browser as something else), recorded in the audit trail and marked read. *via*
    says in the audit entry which channel fetched it (the API)."""
    record(
        AuditAction.DOWNLOAD,
        request=request,
        target=report,
        message=f"rapport {report.file_name}{via}",
        sha256=report.sha256,
    )
    mark_read(report)
    response = FileResponse(
        open_stored(report.stored_name),
        as_attachment=True,
        filename=report.file_name,
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
