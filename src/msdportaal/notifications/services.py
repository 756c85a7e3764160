"""Deciding who hears what, and sending it once."""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from msdportaal.organisations.models import Municipality

from .models import CONTACT_EVENTS, Contact, DeliveryState, EmailLedger, Event, Notification

logger = logging.getLogger(__name__)

#: A ledger row still "pending" after this long belongs to a run that died: retry it.
STALE_PENDING = datetime.timedelta(minutes=30)
MAX_ATTEMPTS = 3
#: Stored e-mails (receipts, confirmations) are tried this often, backing off to an hour
#: between attempts: about nine hours of mail server trouble before one is given up.
STORED_MAX_ATTEMPTS = 14
STORED_MAX_BACKOFF = datetime.timedelta(hours=1)


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


# --- stored e-mails: written with the event, sent by a task, swept if the task is lost ---


def queue_email(
    key: str, email: EmailMultiAlternatives, municipality: Municipality | None = None
) -> list[EmailLedger]:
    """Writes ``email`` to the ledger, one *queued* row per recipient, in the caller's
    transaction; after the commit a task sends it.

    Called from inside the transaction that makes the event true (a confirmed batch, a
    submitted consent form), so the e-mail exists exactly when the event does: a crash or
    a lost broker message after the commit delays it until the sweeper runs, and the
    unique ``(key, recipient)`` makes a second call for the same event a no-op.
    """
    now = timezone.now()
    html = next((content for content, kind in email.alternatives if kind == "text/html"), "")
    rows = []
    for recipient in dict.fromkeys(address.lower() for address in email.to):
        try:
            with transaction.atomic():
                rows.append(
                    EmailLedger.objects.create(
                        key=key,
                        recipient=recipient,
                        municipality=municipality,
                        state=DeliveryState.QUEUED,
                        claimed_at=now,
                        next_attempt_at=now,
                        subject=email.subject[:300],
                        body=str(email.body),
                        html=str(html),
                    )
                )
        except IntegrityError:
            continue  # already queued or sent for this event
    for row in rows:
        transaction.on_commit(lambda pk=row.pk: trigger_email(pk))
    return rows


def trigger_email(row_id: int, countdown: float = 0) -> None:
    from .tasks import send_stored_email

    try:
        send_stored_email.apply_async((row_id,), countdown=countdown)
    except Exception:  # the broker is away: the sweeper sends it
        logger.warning("Could not queue e-mail %s; the sweeper will send it", row_id)


def _backoff(attempts: int) -> datetime.timedelta:
    return min(datetime.timedelta(minutes=2 ** max(attempts - 1, 0)), STORED_MAX_BACKOFF)


def _permanent(exc: Exception) -> bool:
    """A 5xx answer (an unknown address, a refused message) will not change by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _due(now: datetime.datetime) -> Q:
    return Q(
        state__in=[DeliveryState.QUEUED, DeliveryState.FAILED],
        next_attempt_at__lte=now,
        attempts__lt=STORED_MAX_ATTEMPTS,
    ) | Q(
        state=DeliveryState.PENDING,
        next_attempt_at__isnull=False,
        claimed_at__lt=now - STALE_PENDING,
        attempts__lt=STORED_MAX_ATTEMPTS,
    )


def deliver_stored(row_id: int, now: datetime.datetime | None = None) -> bool:
    """Sends one stored e-mail if it is due and this run wins it; True when it went out.

    The claim is a conditional UPDATE, so a task, its retry and the sweeper never send the
    same row at once; a row is *sent* only after the mail server accepted it.
    """
    now = now or timezone.now()
    row = EmailLedger.objects.filter(_due(now), pk=row_id).first()
    if row is None:
        return False
    taken = EmailLedger.objects.filter(pk=row.pk, attempts=row.attempts, state=row.state).update(
        state=DeliveryState.PENDING, attempts=row.attempts + 1, claimed_at=timezone.now()
    )
    if not taken:
        return False
    email = EmailMultiAlternatives(subject=row.subject, body=row.body, to=[row.recipient])
    if row.html:
        email.attach_alternative(row.html, "text/html")
    try:
        email.send()
    except Exception as exc:  # the mail server is away or refuses: try again later
        attempts = row.attempts + 1
        delay = _backoff(attempts)
        final = _permanent(exc) or attempts >= STORED_MAX_ATTEMPTS
        logger.warning(
            "E-mail %s to %s failed (attempt %s): %s", row.key, row.recipient, attempts, exc
        )
        EmailLedger.objects.filter(pk=row.pk).update(
            state=DeliveryState.FAILED,
            error=str(exc)[:500],
            next_attempt_at=None if final else timezone.now() + delay,  # None: never due
        )
        if not final:
            trigger_email(row.pk, countdown=delay.total_seconds())
        else:
            logger.error(
                "E-mail %s to %s: gave up after %s tries", row.key, row.recipient, attempts
            )
        return False
    EmailLedger.objects.filter(pk=row.pk).update(
        state=DeliveryState.SENT, sent_at=timezone.now(), error=""
    )
    return True


def sweep_stored_emails(now: datetime.datetime | None = None) -> int:
    """Sends every stored e-mail that is due: a lost trigger, a retry whose task was lost,
    a row left *pending* by a worker that died. Returns how many went out."""
    now = now or timezone.now()
    due = EmailLedger.objects.filter(_due(now)).order_by("next_attempt_at", "pk")
    return sum(deliver_stored(pk, now) for pk in due.values_list("pk", flat=True)[:500])


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
