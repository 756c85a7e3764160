"""The append-only audit trail: who did what, when, from where, for which gemeente."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Ingelogd")
    LOGIN_FAILED = "login_failed", _("Inloggen mislukt")
    LOGIN_LOCKED_OUT = "login_locked_out", _("Inloggen geblokkeerd (te veel pogingen)")
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
    CALENDAR_LINK = "calendar_link", _("Agenda-link gemaakt of vernieuwd")


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    # Set when the entry joins the hash chain (chain.append), under the chain's lock.
    timestamp = models.DateTimeField(
        _("tijdstip"), default=timezone.now, editable=False, db_index=True
    )
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
    # The hash chain (chain.py): the previous entry's hash, and this entry's own.
    previous_hash = models.CharField(_("hash vorige regel"), max_length=64, editable=False)
    entry_hash = models.CharField(_("hash"), max_length=64, editable=False)

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
        if not self.entry_hash:
            # Every new entry joins the hash chain, however it was created.
            from .chain import append

            append(self)
            return
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditChainHead(models.Model):
    """One row: the end of the audit trail's hash chain. Appending locks it, so writers
    take turns; its hash shows when the newest entries were removed."""

    SINGLETON = 1

    last_hash = models.CharField(max_length=64)
    last_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("einde van de audittrail")

    def __str__(self) -> str:
        return f"{self.last_entry_id}: {self.last_hash}"
