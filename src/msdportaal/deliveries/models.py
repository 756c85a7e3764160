"""Deliveries: the files a gemeente uploads, and each CSV's reference number."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from msdportaal.periods.calendar import HalfYear, current_half_year
from msdportaal.transport.status import ForwardingStatus, forwarding_status


class FileKind(models.TextChoices):
    CSV = "csv", "CSV"
    ZIP = "zip", "ZIP"


CONTENT_TYPES = {FileKind.CSV: "text/csv", FileKind.ZIP: "application/zip"}


class UploadBatch(models.Model):
    """The files of one upload, between "Controleer uw aanlevering" and confirming it.

    Confirming is idempotent: a second click, the back button or a retried request finds
    the batch already confirmed and shows the same confirmation.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    municipality = models.ForeignKey("organisations.Municipality", on_delete=models.PROTECT)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("upload (te controleren)")
        verbose_name_plural = _("uploads (te controleren)")

    def __str__(self) -> str:
        return str(self.pk)


class StagedFile(models.Model):
    """An accepted upload waiting for confirmation, already in its final storage place."""

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField()
    file_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=3, choices=FileKind.choices)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    stored_name = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    #: One entry per CSV (one for a loose CSV): name, data set code, period code, size, warning.
    members = models.JSONField(default=list)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.file_name


class Delivery(models.Model):
    """One uploaded file (a CSV, or a ZIP holding CSVs), forwarded to CBS byte for byte."""

    reference = models.CharField(_("referentienummer"), max_length=19, unique=True)
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    batch = models.ForeignKey(UploadBatch, on_delete=models.PROTECT, related_name="deliveries")
    kind = models.CharField(_("soort"), max_length=3, choices=FileKind.choices)
    file_name = models.CharField(_("bestandsnaam"), max_length=255)
    size = models.BigIntegerField(_("grootte (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_name = models.CharField(_("opslaglocatie"), max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("aangeleverd door"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_by_name = models.CharField(_("aangeleverd door (naam)"), max_length=255)
    uploaded_at = models.DateTimeField(_("ontvangen op"))
    confirmed_at = models.DateTimeField(_("bevestigd op"), auto_now_add=True)
    late = models.BooleanField(_("na de deadline"), default=False)
    outbound_message = models.OneToOneField(
        "transport.OutboundMessage",
        verbose_name=_("bericht aan RINIS"),
        null=True,
        on_delete=models.PROTECT,
        related_name="delivery",
    )
    #: Set when the file's contents were removed, MSD_RETENTION_DELIVERED_DAYS after RINIS
    #: accepted it; the row, size, SHA-256 and CSV references stay.
    purged_at = models.DateTimeField(_("bestand verwijderd op"), null=True, blank=True)

    class Meta:
        verbose_name = _("aanlevering")
        verbose_name_plural = _("aanleveringen")
        ordering = ["-uploaded_at", "-reference"]

    def __str__(self) -> str:
        return f"{self.reference} {self.file_name}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[FileKind(self.kind)]

    @property
    def forwarding_status(self) -> ForwardingStatus:
        return forwarding_status(self.outbound_message)


class DeliveredFile(models.Model):
    """One CSV with its own reference: a loose CSV, or a CSV inside a ZIP (``<ref>-n``).

    Deliveries are integral: a new CSV for the same gemeente, set and period replaces the
    current one, which stays in the history as "vervangen" (``replaced_by``).
    """

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="files")
    reference = models.CharField(_("referentienummer"), max_length=24, unique=True)
    position = models.PositiveSmallIntegerField(_("positie in ZIP"), default=0)
    file_name = models.CharField(_("bestandsnaam"), max_length=255)
    size = models.BigIntegerField(_("grootte (bytes)"))
    municipality = models.ForeignKey(
        "organisations.Municipality", on_delete=models.PROTECT, related_name="+"
    )
    data_set = models.ForeignKey(
        "periods.DataSet", verbose_name=_("set"), on_delete=models.PROTECT, related_name="+"
    )
    period_code = models.CharField(_("periodecode"), max_length=8)
    reporting_period = models.ForeignKey(
        "periods.ReportingPeriod",
        verbose_name=_("verslagperiode"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("vervangt"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )
    naming_warning = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("aangeleverd CSV-bestand")
        verbose_name_plural = _("aangeleverde CSV-bestanden")
        ordering = ["-delivery__uploaded_at", "position"]

    def __str__(self) -> str:
        return f"{self.reference} {self.file_name}"

    @property
    def replacement(self) -> DeliveredFile | None:
        """The CSV that replaced this one, if any."""
        try:
            return self.replaced_by  # type: ignore[attr-defined]
        except DeliveredFile.DoesNotExist:
            return None

    @property
    def is_correction(self) -> bool:
        """Delivered for the previous period while a newer one was current: the upload page
        calls that a correction, so it is never flagged "na de deadline" to the gemeente."""
        uploaded = timezone.localdate(self.delivery.uploaded_at)
        return HalfYear.from_code(self.reporting_period.code) < current_half_year(uploaded)

    @property
    def is_late(self) -> bool:
        """Delivered for the current period after its deadline (the delivery's ``late``
        flag, which IB sees, covers every CSV of a ZIP)."""
        if not self.delivery.late or self.is_correction:
            return False
        return timezone.localdate(self.delivery.uploaded_at) > self.reporting_period.deadline
