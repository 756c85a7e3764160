"""Gemeenten and the people who act for them."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

cbs_code_validator = RegexValidator(r"^\d{4}$", _("Een CBS-gemeentecode bestaat uit 4 cijfers."))


class MunicipalityQuerySet(models.QuerySet["Municipality"]):
    def active(self, on: datetime.date | None = None) -> MunicipalityQuerySet:
        on = on or timezone.localdate()
        return self.filter(Q(inactive_from__isnull=True) | Q(inactive_from__gt=on))


class Municipality(models.Model):
    """A gemeente, identified by its 4-digit CBS code (``0363``).

    Gemeenten are never deleted: one that disappears in a merger is marked inactive
    from a date, so its deliveries, reports and audit entries keep their link.
    """

    code = models.CharField(
        _("CBS-code"), max_length=4, unique=True, validators=[cbs_code_validator]
    )
    name = models.CharField(_("naam"), max_length=100)
    province = models.CharField(_("provincie"), max_length=50, blank=True)
    kvk_number = models.CharField(
        _("KvK-nummer"),
        max_length=8,
        blank=True,
        validators=[RegexValidator(r"^\d{8}$", _("Een KvK-nummer bestaat uit 8 cijfers."))],
        help_text=_("eHerkenning: het KvK-nummer waarmee deze gemeente inlogt."),
    )
    rsin = models.CharField(
        _("RSIN"),
        max_length=9,
        blank=True,
        validators=[RegexValidator(r"^\d{9}$", _("Een RSIN bestaat uit 9 cijfers."))],
    )
    oin = models.CharField(
        _("OIN"),
        max_length=20,
        blank=True,
        validators=[RegexValidator(r"^\d{20}$", _("Een OIN bestaat uit 20 cijfers."))],
    )
    inactive_from = models.DateField(
        _("inactief vanaf"),
        null=True,
        blank=True,
        help_text=_("Vanaf deze datum bestaat de gemeente niet meer (bijvoorbeeld na een fusie)."),
    )

    objects = MunicipalityQuerySet.as_manager()

    class Meta:
        verbose_name = _("gemeente")
        verbose_name_plural = _("gemeenten")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.gm_code})"

    @property
    def gm_code(self) -> str:
        return f"GM{self.code}"

    def is_active(self, on: datetime.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.inactive_from is None or self.inactive_from > on


class User(AbstractUser):
    """A person using the portal: a municipal employee, a supplier's employee, or IB staff.

    Municipal users come in through eHerkenning, which tells us the organisation and a
    pseudonym, not a name or e-mail address; those come from the profile the user fills
    in at first login (DESIGN.md §3.6). What one login is for (its gemeenten, the
    organisation or intermediary, the chosen gemeente) is kept in that login's session,
    not here: one person may be logged in twice, for two gemeenten (``session.py``).
    """

    phone = models.CharField(_("telefoonnummer"), max_length=20, blank=True)
    municipalities = models.ManyToManyField(
        Municipality,
        verbose_name=_("gemeenten"),
        related_name="users",
        blank=True,
        help_text=_(
            "De gemeenten waarvoor deze persoon heeft ingelogd. Elke inlog handelt alleen "
            "voor de gemeenten van die inlog. Haalt u hier een gemeente weg, dan kan de "
            "persoon daar direct in geen enkele sessie meer voor handelen, tot een nieuwe "
            "inlog voor die gemeente."
        ),
    )
    identity_pseudonym = models.CharField(
        _("pseudoniem"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Identificatie van de persoon zoals eHerkenning die doorgeeft."),
    )
    profile_completed_at = models.DateTimeField(_("profiel ingevuld op"), null=True, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("gebruiker")
        verbose_name_plural = _("gebruikers")

    @property
    def is_municipal_user(self) -> bool:
        return not self.is_staff

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email or self.username
