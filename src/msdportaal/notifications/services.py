"""Deciding who hears what, and sending it once."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from msdportaal.organisations.models import Municipality

from .models import CONTACT_EVENTS, Contact, DeliveryState, EmailLedger, Event, Notification

logger = logging.getLogger(__name__)

#: A ledger row still "pending" after this long belongs to a run that died: retry it.
STALE_PENDING = datetime.timedelta(minutes=30)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Message:
    """One event for one gemeente: what the portal shows and what the e-mail says."""

    event: Event
    key: str
    title: str
    body: str
    link: str = ""


def notify(municipality: Municipality, message: Message) -> Notification | None:
    """The portal message (once per gemeente and event) and the e-mails (once per contact).

    A second call for the same key changes nothing, so callers can simply run again.
    """
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                municipality=municipality,
                event=message.event,
                key=message.key,
                title=message.title,
                body=message.body,
                link=message.link,
            )
    except IntegrityError:
        notification = None  # already there: only unsent e-mails may remain
    recipients = [c for c in municipality.contacts.all() if c.wants(message.event)]
    send_emails(message, recipients, municipality)
    return notification


def send_emails(
    message: Message, contacts: Iterable[Contact], municipality: Municipality | None
) -> None:
    for contact in contacts:
        _send_once(message, contact.email, contact.name, municipality)


def _claim(key: str, recipient: str, municipality: Municipality | None) -> EmailLedger | None:
    """The ledger row for this e-mail if this run may send it now, else None.

    Inserting the row is the claim (unique constraint); a failed or abandoned row is taken
    over by bumping ``attempts`` conditionally, so only one run can win it.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return EmailLedger.objects.create(
                key=key, recipient=recipient, municipality=municipality, attempts=1, claimed_at=now
            )
    except IntegrityError:
        pass
    row = EmailLedger.objects.filter(key=key, recipient=recipient).first()
    if row is None or row.state == DeliveryState.SENT or row.attempts >= MAX_ATTEMPTS:
        return None
    if row.state == DeliveryState.PENDING and row.claimed_at > now - STALE_PENDING:
        return None  # another run is sending it right now
    taken = EmailLedger.objects.filter(pk=row.pk, attempts=row.attempts).update(
        state=DeliveryState.PENDING, attempts=row.attempts + 1, claimed_at=now
    )
    if not taken:
        return None
    row.refresh_from_db()
    return row


def _send_once(
    message: Message, recipient: str, name: str, municipality: Municipality | None
) -> None:
    row = _claim(message.key, recipient, municipality)
    if row is None:
        return
    context = {
        "message": message,
        "name": name,
        "municipality": municipality,
        "portal_url": settings.MSD_PUBLIC_URL,
    }
    email = EmailMultiAlternatives(
        subject=f"MSD Portaal: {message.title}",
        body=render_to_string("notifications/emails/notification.txt", context),
        to=[recipient],
    )
    email.attach_alternative(
        render_to_string("notifications/emails/notification.html", context), "text/html"
    )
    try:
        email.send()
    except Exception as exc:  # one bad address or a hiccup never stops the others
        logger.warning("E-mail %s to %s failed: %s", message.key, recipient, exc)
        EmailLedger.objects.filter(pk=row.pk).update(
            state=DeliveryState.FAILED, error=str(exc)[:500]
        )
        return
    EmailLedger.objects.filter(pk=row.pk).update(
        state=DeliveryState.SENT, sent_at=timezone.now(), error=""
    )


def ensure_contact_for(user: object, municipalities: Iterable[Municipality]) -> None:
    """Whoever completes a profile hears about everything, until they choose otherwise."""
    email = getattr(user, "email", "")
    if not email:
        return
    for municipality in municipalities:
        Contact.objects.get_or_create(
            municipality=municipality,
            email=email.lower(),
            defaults={
                "name": user.get_full_name() or email,
                "user": user,  # type: ignore[attr-defined]
                "events": [e.value for e in CONTACT_EVENTS],
                "added_by": email,
            },
        )


def unread_count(municipality: Municipality | None) -> int:
    if municipality is None:
        return 0
    return Notification.objects.filter(municipality=municipality, read_at__isnull=True).count()
