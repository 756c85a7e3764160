"""Consent for publication (opt-in): per gemeente, per reporting period, per set yes/no.

A :class:`ConsentForm` is one filled-in form for one gemeente and period. It starts as a
draft (the answers between the form and "Controleer uw antwoorden") and becomes a
submission once confirmed: then it has a reference, its CSV is stored and an outbound
message carries the CSV to CBS. A later change is a new, complete submission; the
newest submission of a gemeente and period is the one in force.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from msdportaal.transport.status import ForwardingStatus, forwarding_status


class ConsentFormQuerySet(models.QuerySet["ConsentForm"]):
    def submitted(self) -> ConsentFormQuerySet:
        return self.filter(submitted_at__isnull=False)

    def drafts(self) -> ConsentFormQuerySet:
        return self.filter(submitted_at__isnull=True)


class ConsentForm(models.Model):
    """One consent form of a gemeente for one reporting period (a draft or a submission)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.PROTECT,
        related_name="consent_forms",
    )
    period = models.ForeignKey(
        "periods.ReportingPeriod",
        verbose_name=_("verslagperiode"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ingevuld door (account)"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("ingevuld op"), auto_now_add=True)
    # The person who decides (prefilled from the profile; goes into the CSV).
    name = models.CharField(_("naam"), max_length=200)
    email = models.EmailField(_("e-mailadres"), max_length=254)
    phone = models.CharField(_("telefoonnummer"), max_length=20)
    # Set when submitted.
    reference = models.CharField(
        _("referentienummer"), max_length=19, unique=True, null=True, blank=True
    )
    submitted_at = models.DateTimeField(_("ingediend op"), null=True, blank=True)
    submitted_by_name = models.CharField(_("ingediend door"), max_length=255, blank=True)
    decided_on = models.DateField(_("datum besluit"), null=True, blank=True)
    file_name = models.CharField(_("bestandsnaam"), max_length=255, blank=True)
    stored_name = models.CharField(_("opslaglocatie"), max_length=255, blank=True)
    size = models.BigIntegerField(_("grootte (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    # The CSV's contents go after the retention term (operations.retention); this row stays.
    purged_at = models.DateTimeField(_("bestand verwijderd op"), null=True, blank=True)
    outbound_message = models.OneToOneField(
        "transport.OutboundMessage",
        verbose_name=_("bericht aan RINIS"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_form",
    )

    objects = ConsentFormQuerySet.as_manager()

    class Meta:
        verbose_name = _("toestemmingsformulier")
        verbose_name_plural = _("toestemmingsformulieren")
        ordering = ["-submitted_at", "-created_at"]
        indexes = [models.Index(fields=["municipality", "period", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.reference or gettext('concept')} {self.municipality} {self.period.code}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None

    @property
    def forwarding_status(self) -> ForwardingStatus:
        return forwarding_status(self.outbound_message)


class Consent(models.Model):
    """The answer for one set: yes or no to publication. Question and title are kept as
    they were asked, so the CSV and the history never change afterwards."""

    form = models.ForeignKey(ConsentForm, on_delete=models.CASCADE, related_name="consents")
    data_set = models.ForeignKey(
        "periods.DataSet", verbose_name=_("set"), on_delete=models.PROTECT, related_name="+"
    )
    period_code = models.CharField(_("periodecode"), max_length=8)
    request_name = models.CharField(_("naam verzoek"), max_length=100)
    question = models.TextField(_("vraag"))
    given = models.BooleanField(_("toestemming gegeven"))
    position = models.PositiveSmallIntegerField(_("volgorde"), default=0)

    class Meta:
        verbose_name = _("toestemming per set")
        verbose_name_plural = _("toestemming per set")
        ordering = ["form", "position"]
        constraints = [
            models.UniqueConstraint(fields=["form", "data_set"], name="one_answer_per_set")
        ]

    def __str__(self) -> str:
        return f"{self.request_name} ({self.period_code}): {self.conclusion}"

    @property
    def conclusion(self) -> str:
        """``ja`` or ``nee``, exactly as in the CSV."""
        return "ja" if self.given else "nee"
