"""Notifications: a message in the portal per gemeente, and e-mail to its contacts.

Every e-mail goes out at most once per recipient and e-mail key: the ledger's unique
constraint is the guarantee, whether beat fires twice or a worker dies mid-run.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from solo.models import SingletonModel


class Event(models.TextChoices):
    WINDOW_OPENS = "window_opens", _("De aanleverperiode gaat open")
    DEADLINE_REMINDER = "deadline_reminder", _("Herinnering: de deadline nadert")
    REPORT = "report", _("Er staat een nieuw rapport klaar")
    CONSENT_OPEN = "consent_open", _("Het toestemmingsformulier staat klaar")
    CONSENT_REMINDER = "consent_reminder", _("Herinnering: toestemming geven")
    CONSENT_REQUIRED_AGAIN = "consent_again", _("Na een correctie is opnieuw toestemming nodig")
    IB_DIGEST = "ib_digest", _("Dagelijks overzicht voor IB")


#: Events a gemeente's contacts can choose from (the IB digest is not one of them).
CONTACT_EVENTS = [choice for choice in Event if choice != Event.IB_DIGEST]


class NotificationSettings(SingletonModel):
    reminder_days = models.CharField(
        _("herinneringen (dagen voor de deadline)"),
        max_length=50,
        default="14,7,1",
        help_text=_("Komma-gescheiden, bijvoorbeeld 14,7,1."),
    )
    consent_reminder_days = models.CharField(
        _("herinneringen toestemming (dagen na openstelling)"),
        max_length=50,
        default="14,28",
    )
    digest_email = models.EmailField(
        _("e-mailadres voor het dagelijkse overzicht van IB"),
        blank=True,
    )
    digest_days_before_deadline = models.PositiveIntegerField(
        _("gemeenten zonder aanlevering melden vanaf (dagen voor de deadline)"),
        default=14,
    )

    class Meta:
        verbose_name = _("instellingen meldingen")

    def __str__(self) -> str:
        return str(_("Instellingen meldingen"))

    @staticmethod
    def _days(value: str) -> list[int]:
        return sorted(
            {int(part) for part in value.replace(" ", "").split(",") if part.isdigit()},
            reverse=True,
        )

    @property
    def reminder_day_list(self) -> list[int]:
        return self._days(self.reminder_days)

    @property
    def consent_reminder_day_list(self) -> list[int]:
        return sorted(self._days(self.consent_reminder_days))


class Contact(models.Model):
    """Someone a gemeente wants to hear from us, and about what."""

    municipality = models.ForeignKey(
        "organisations.Municipality",
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("gemeente"),
    )
    name = models.CharField(_("naam"), max_length=150)
    email = models.EmailField(_("e-mailadres"))
    events = models.JSONField(_("meldingen"), default=list)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gebruiker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    added_by = models.CharField(_("toegevoegd door"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("contactpersoon")
        verbose_name_plural = _("contactpersonen")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "email"], name="one_contact_per_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def wants(self, event: str) -> bool:
        return event in self.events


class Notification(models.Model):
    """The message in the portal, one per gemeente per event."""

    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    event = models.CharField(_("gebeurtenis"), max_length=30, choices=Event.choices)
    key = models.CharField(_("sleutel"), max_length=150)
    title = models.CharField(_("titel"), max_length=200)
    body = models.TextField(_("tekst"))
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("aangemaakt op"), auto_now_add=True)
    read_at = models.DateTimeField(_("gelezen op"), null=True, blank=True)

    class Meta:
        verbose_name = _("melding")
        verbose_name_plural = _("meldingen")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "key"], name="one_notification_per_event"
            )
        ]

    def __str__(self) -> str:
        return self.title


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("Wacht op verzending")
    PENDING = "pending", _("Bezig")
    SENT = "sent", _("Verstuurd")
    FAILED = "failed", _("Mislukt")


class EmailLedger(models.Model):
    """One row per (e-mail key, recipient): every e-mail the portal sends, once.

    The row is written in the transaction that makes the e-mail's event true, with its
    ``subject``/``body``/``html``; it starts as *queued*, and a task or the sweeper sends
    it (``outbox.queue_email``, ``outbox.deliver_stored``). Rows from before the outbox
    (notification e-mails rendered when sent) have no subject and no ``next_attempt_at``.
    """

    key = models.CharField(_("gebeurtenis (sleutel)"), max_length=150)
    recipient = models.EmailField(_("ontvanger"))
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    state = models.CharField(
        _("status"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("pogingen"), default=0)
    error = models.CharField(_("laatste fout"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("aangemaakt op"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("laatst opgepakt op"))
    sent_at = models.DateTimeField(_("verstuurd op"), null=True, blank=True)
    subject = models.CharField(_("onderwerp"), max_length=300, blank=True)
    body = models.TextField(_("tekst"), blank=True)
    html = models.TextField(_("HTML-versie"), blank=True)
    #: When the next attempt is due (None: never again — sent, given up, or an old row).
    next_attempt_at = models.DateTimeField(
        _("volgende poging"), null=True, blank=True, db_index=True
    )

    class Meta:
        verbose_name = _("verstuurde e-mail")
        verbose_name_plural = _("verstuurde e-mails")
        constraints = [models.UniqueConstraint(fields=["key", "recipient"], name="email_once")]

    def __str__(self) -> str:
        return f"{self.key} → {self.recipient} ({self.state})"
