"""CBS's reports for a gemeente. IB never opens them: the kind comes from the envelope."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    ERROR = "foutrapport", _("Foutrapport (technische controle)")
    IN_ORDER = "op_orde", _("Inhoudelijk rapport: op orde")
    OTHER = "overig", _("Overig rapport")


class ReportKindMapping(models.Model):
    """Which StUF ``functie`` means which kind of report (DESIGN.md §3.3)."""

    functie = models.CharField(_("functie"), max_length=30, unique=True)
    kind = models.CharField(_("soort rapport"), max_length=20, choices=ReportKind.choices)

    class Meta:
        verbose_name = _("soort rapport per functie")
        verbose_name_plural = _("soorten rapport per functie")

    def __str__(self) -> str:
        return f"{self.functie} → {self.get_kind_display()}"


class Report(models.Model):
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.PROTECT,
        related_name="reports",
    )
    kind = models.CharField(_("soort"), max_length=20, choices=ReportKind.choices)
    functie = models.CharField(_("functie"), max_length=30)
    delivery = models.ForeignKey(
        "deliveries.Delivery",
        verbose_name=_("aanlevering"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    #: The one CSV this report is about, when CBS named it (``crossRefnummerBericht`` =
    #: ``<ref>-n`` for a CSV in a ZIP, or a loose CSV's delivery). Empty with a delivery: the
    #: report is about every CSV of that delivery (the whole ZIP).
    delivered_file = models.ForeignKey(
        "deliveries.DeliveredFile",
        verbose_name=_("CSV-bestand"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    period_code = models.CharField(_("verslagperiode"), max_length=8, blank=True)
    file_name = models.CharField(_("bestandsnaam"), max_length=255)
    content_type = models.CharField(_("contenttype"), max_length=50)
    size = models.BigIntegerField(_("grootte (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_name = models.CharField(max_length=255)
    received = models.OneToOneField(
        "transport.ReceivedMessage",
        verbose_name=_("bericht"),
        on_delete=models.PROTECT,
        related_name="report",
    )
    received_at = models.DateTimeField(_("ontvangen op"), auto_now_add=True)
    first_read_at = models.DateTimeField(_("voor het eerst gedownload"), null=True, blank=True)
    #: Set when the file's contents were removed at the end of the retention term
    #: (MSD_RETENTION_REPORT_DAYS); the row, size and SHA-256 stay.
    purged_at = models.DateTimeField(_("bestand verwijderd op"), null=True, blank=True)

    class Meta:
        verbose_name = _("rapport")
        verbose_name_plural = _("rapporten")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.municipality} {self.get_kind_display()} {self.file_name}"

    @property
    def files(self) -> list:
        """The CSVs this report is about: the one it names, else every CSV of its delivery
        (a report on a ZIP is about all the sets in it)."""
        if self.delivered_file_id is not None:
            return [self.delivered_file]
        return list(self.delivery.files.all()) if self.delivery_id else []

    @property
    def is_unread(self) -> bool:
        return self.first_read_at is None
