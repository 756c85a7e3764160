"""Deciding who hears what; the e-mails go through the outbox (:mod:`.outbox`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from msdportaal.organisations.models import Municipality

from .emails import compose
from .models import CONTACT_EVENTS, Contact, Event, Notification
from .outbox import queue_email, queued_recipients

NOTIFICATION_TEMPLATES = "notifications/emails/notification"


@dataclass(frozen=True)
class Message:
    """One event for one gemeente: what the portal shows and what the e-mail says."""

    event: Event
    key: str
    title: str
    body: str
    link: str = ""


def email_key(message: Message, municipality: Municipality | None) -> str:
    """The ledger key of a notification e-mail: the event's key *and* the gemeente.

    Most events are the same for every gemeente (``window:2026HJ02``); a contact who
    hears from two gemeenten (an intermediary) gets one e-mail for each.
    """
    return f"{municipality.code}:{message.key}" if municipality is not None else message.key


def notify(municipality: Municipality, message: Message) -> Notification | None:
    """The portal message (once per gemeente and event) and the e-mails (once per contact),
    in one transaction: inside the caller's, or its own.

    A second call for the same key changes nothing, so callers can simply run again; a
    contact added since the first call gets the e-mail then.
    """
    recipients = [c for c in municipality.contacts.all() if c.wants(message.event)]
    with transaction.atomic():
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
            notification = None  # already there: only e-mails not yet queued may remain
        send_emails(message, recipients, municipality)
    return notification


def send_emails(
    message: Message, contacts: Iterable[Contact], municipality: Municipality | None
) -> None:
    """Queues the e-mail of *message* for each contact that has none for it yet."""
    key = email_key(message, municipality)
    queued = queued_recipients(key)
    for contact in contacts:
        if contact.email.lower() in queued:
            continue
        context = {
            "message": message,
            "name": contact.name,
            "municipality": municipality,
            "portal_url": settings.MSD_PUBLIC_URL,
        }
        queue_email(key, compose(NOTIFICATION_TEMPLATES, context, contact.email), municipality)


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
