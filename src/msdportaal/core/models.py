"""What every app shares: the reference numbers users see (DESIGN.md §4)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IssuedReference(models.Model):
    """Every reference number ever handed out, by any app: the unique constraint here is
    what makes ``YYYYMMDD-HHMMSS-NNN`` unique system-wide and never reused."""

    reference = models.CharField(_("referentienummer"), max_length=19, unique=True)
    issued_for = models.CharField(_("uitgegeven voor"), max_length=40)
    issued_at = models.DateTimeField(_("uitgegeven op"), auto_now_add=True)

    class Meta:
        verbose_name = _("referentienummer")
        verbose_name_plural = _("referentienummers")

    def __str__(self) -> str:
        return self.reference
