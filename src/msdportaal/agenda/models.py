"""A personal subscription to a gemeente's agenda feed."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class CalendarSubscription(models.Model):
    """One user's secret feed URL for one gemeente (``/agenda/<token>.ics``).

    The token is the credential: calendar apps fetch the feed without a session. Renewing
    replaces the token in this row, so the old URL answers 404 from that moment on. The
    feed holds the gemeente's dates only, nothing about the user.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gebruiker"),
        on_delete=models.CASCADE,
        related_name="calendar_subscriptions",
    )
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(_("gemaakt op"), auto_now_add=True)
    renewed_at = models.DateTimeField(_("vernieuwd op"), null=True, blank=True)

    class Meta:
        verbose_name = _("agenda-abonnement")
        verbose_name_plural = _("agenda-abonnementen")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "municipality"], name="one_calendar_subscription_per_gemeente"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.municipality}"
