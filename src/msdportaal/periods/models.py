"""Reporting periods and the data sets delivered in them."""

from __future__ import annotations

import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .calendar import HalfYear


class Frequency(models.TextChoices):
    HALF_YEARLY = "halfjaarlijks", _("Elk halfjaar")
    YEARLY = "jaarlijks", _("Eens per jaar (in de HJ02-periode, periodecode JJJJJJ00)")


class NamingMode(models.TextChoices):
    ENFORCE = "enforce", _("Afdwingen: een afwijkende naam wordt geweigerd")
    ADVISE = "advise", _("Adviseren: een afwijkende naam wordt geaccepteerd met een waarschuwing")


class DataSet(models.Model):
    """A set CBS asks for (WMO basis, WMO kosten, …) with its naming convention.

    The convention is a regular expression with the named groups ``gemeentecode`` and
    ``periode``; from a file's name the portal knows set, gemeente and period, so the
    user never picks them (DESIGN.md §3.2).
    """

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("naam"), max_length=100)
    file_kind = models.CharField(_("bestandssoort"), max_length=50)
    frequency = models.CharField(_("frequentie"), max_length=20, choices=Frequency.choices)
    file_name_token = models.CharField(
        _("setnaam in bestandsnaam"), max_length=30, help_text=_("Bijvoorbeeld WMO-BASIS.")
    )
    naming_pattern = models.CharField(
        _("naamconventie (reguliere expressie)"),
        max_length=500,
        help_text=_("Met de benoemde groepen (?P<gemeentecode>…) en (?P<periode>…)."),
    )
    naming_mode = models.CharField(
        _("handhaving naamconventie"),
        max_length=10,
        choices=NamingMode.choices,
        default=NamingMode.ENFORCE,
    )
    consent_question = models.TextField(_("toestemmingsvraag"), blank=True)
    order = models.PositiveSmallIntegerField(_("volgorde"), default=0)

    class Meta:
        verbose_name = _("set")
        verbose_name_plural = _("sets")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_yearly(self) -> bool:
        return self.frequency == Frequency.YEARLY

    def period_code(self, half_year: HalfYear) -> str | None:
        """The period code this set carries in a half-year, or None when not delivered then."""
        if self.is_yearly:
            return half_year.yearly_code if half_year.half == 2 else None
        return half_year.code

    def example_file_name(self, municipality_code: str, half_year: HalfYear) -> str:
        # In an HJ01 period the yearly sets are still due for the year before.
        code = self.period_code(half_year) or half_year.previous().yearly_code
        return f"MSD_{self.file_name_token}_{municipality_code}_{code}.csv"


class ReportingPeriodQuerySet(models.QuerySet["ReportingPeriod"]):
    def for_half_year(self, half_year: HalfYear) -> ReportingPeriod:
        """The period, created with the calendar's defaults the first time it is needed."""
        period, _created = self.get_or_create(
            code=half_year.code, defaults=ReportingPeriod.defaults_for(half_year)
        )
        return period


class ReportingPeriod(models.Model):
    """A half-year with its delivery window. Generated ahead from the calendar's defaults;
    IB can move any date in the admin, or close the period."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    window_opens = models.DateField(
        _("aanleverperiode opent"),
        help_text=_("Standaard de eerste dag van de maand na het einde van de periode."),
    )
    deadline = models.DateField(
        _("deadline"),
        help_text=_("Laatste dag van de aanleverperiode. Verschuiven geldt voor alle gemeenten."),
    )
    consent_opens = models.DateField(
        _("toestemmingsformulier opent"),
        help_text=_("Vanaf deze dag kunnen gemeenten met een op-orde-rapport toestemming geven."),
    )
    closed_at = models.DateTimeField(
        _("gesloten op"),
        null=True,
        blank=True,
        help_text=_("Na sluiting weigert het portaal aanleveringen voor deze periode."),
    )

    objects = ReportingPeriodQuerySet.as_manager()

    class Meta:
        verbose_name = _("verslagperiode")
        verbose_name_plural = _("verslagperiodes")
        ordering = ["-code"]

    def __str__(self) -> str:
        return f"{self.half_year.label} ({self.code})"

    @staticmethod
    def defaults_for(half_year: HalfYear) -> dict[str, datetime.date]:
        return {
            "window_opens": half_year.window_opens,
            "deadline": half_year.deadline(settings.MSD_DELIVERY_WINDOW_MONTHS),
            "consent_opens": half_year.window_opens
            + relativedelta(months=settings.MSD_CONSENT_OPENS_AFTER_MONTHS),
        }

    @property
    def half_year(self) -> HalfYear:
        return HalfYear.from_code(self.code)

    @property
    def label(self) -> str:
        return f"Verslagperiode {self.half_year.label} ({self.code})"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None and self.closed_at <= timezone.now()

    @property
    def consent_last_day(self) -> datetime.date:
        """The last day the consent form takes a decision (Europe/Amsterdam).

        A period's form stays open while the period is current or previous
        (``consent.selectors.decide_status``): until the window of the period two on
        opens, so the last day is the end of the half-year after next. IB closing the
        period earlier ends it on the day of the closing (before a midnight closing: the
        day before).
        """
        last = self.half_year.next().next().end
        if self.closed_at is not None:
            closing = timezone.localtime(self.closed_at - datetime.timedelta(microseconds=1))
            last = min(last, closing.date())
        return last

    def deadline_for(self, municipality: object) -> datetime.date:
        """The deadline for one gemeente: its extension if IB granted one."""
        extension = self.extensions.filter(municipality=municipality).first()
        return max(self.deadline, extension.deadline) if extension else self.deadline


class DeadlineExtension(models.Model):
    """IB grants one gemeente more time for one period."""

    period = models.ForeignKey(
        ReportingPeriod,
        on_delete=models.CASCADE,
        related_name="extensions",
        verbose_name=_("verslagperiode"),
    )
    municipality = models.ForeignKey(
        "organisations.Municipality",
        on_delete=models.CASCADE,
        verbose_name=_("gemeente"),
        related_name="deadline_extensions",
    )
    deadline = models.DateField(_("deadline voor deze gemeente"))
    reason = models.CharField(_("reden"), max_length=200, blank=True)
    #: When IB granted it, or last moved its deadline (IB's start page counts today's);
    #: empty for extensions granted before this was recorded.
    granted_at = models.DateTimeField(_("verleend op"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("uitstel")
        verbose_name_plural = _("uitstel per gemeente")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "municipality"], name="one_extension_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.municipality} {self.period.code}: {self.deadline:%d-%m-%Y}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        previous = (
            DeadlineExtension.objects.filter(pk=self.pk).values_list("deadline", flat=True).first()
            if self.pk is not None
            else None
        )
        if previous != self.deadline:
            self.granted_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "granted_at"}
        super().save(*args, **kwargs)
