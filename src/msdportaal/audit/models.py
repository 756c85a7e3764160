"""The append-only audit trail: who did what, when, from where, for which gemeente."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Ingelogd")
    LOGIN_FAILED = "login_failed", _("Inloggen mislukt")
    LOGOUT = "logout", _("Uitgelogd")
    MUNICIPALITY_CHOSEN = "municipality_chosen", _("Gemeente gekozen")
    PROFILE_UPDATED = "profile_updated", _("Profiel gewijzigd")
    ADMIN_ADDITION = "admin_addition", _("Beheer: toegevoegd")
    ADMIN_CHANGE = "admin_change", _("Beheer: gewijzigd")
    ADMIN_DELETION = "admin_deletion", _("Beheer: verwijderd")
    MUNICIPALITIES_IMPORTED = "municipalities_imported", _("Gemeentelijst bijgewerkt")
    UPLOAD = "upload", _("Bestand aangeleverd")
    UPLOAD_REFUSED = "upload_refused", _("Aanlevering geweigerd")
    DOWNLOAD = "download", _("Bestand gedownload")
    SUBMISSION = "submission", _("Formulier ingediend")
    MESSAGE_RESENT = "message_resent", _("Bericht opnieuw verstuurd")
    RETENTION_PURGE = "retention_purge", _("Bestand verwijderd (bewaartermijn)")


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    timestamp = models.DateTimeField(_("tijdstip"), auto_now_add=True, db_index=True)
    action = models.CharField(_("actie"), max_length=40, choices=AuditAction.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gebruiker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too, so the entry still says who it was if the account is removed.
    user_repr = models.CharField(_("gebruiker (tekst)"), max_length=255, blank=True)
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField(_("IP-adres"), null=True, blank=True)
    object_type = models.CharField(_("objecttype"), max_length=100, blank=True)
    object_id = models.CharField(_("object-ID"), max_length=100, blank=True)
    message = models.CharField(_("omschrijving"), max_length=500, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("auditregel")
        verbose_name_plural = _("audittrail")
        ordering = ["-timestamp", "-pk"]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.get_action_display()} {self.user_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")
