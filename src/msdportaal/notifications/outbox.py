"""The e-mail outbox: every e-mail the portal sends is a row in the ledger first.

An e-mail is written to :class:`~.models.EmailLedger` (subject, text and HTML included) in
the transaction that makes its event true: a confirmed batch, a submitted consent form, a
stored report, a reminder that is due, a message to RINIS that failed for good. After the
commit a Celery task sends it (:func:`deliver_stored`); a failure schedules the next try
with back-off, and the beat task ``sweep-emails`` sends whatever is due and has no task on
its way (:func:`sweep_stored_emails`). So a crash, a lost broker message or a mail server
that is away after the commit delays an e-mail, never loses it; and the unique
``(key, recipient)`` of the ledger makes every e-mail go out at most once, however often it
is queued or triggered.

::

    queued ──▶ pending ──▶ sent
                  └──▶ failed ──(when due)──▶ pending …   (STORED_MAX_ATTEMPTS in all)
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import smtplib
import time
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, IntegrityError, InterfaceError, transaction
from django.db.models import Q
from django.utils import timezone

from msdportaal.organisations.models import Municipality

from .models import DeliveryState, EmailLedger

logger = logging.getLogger(__name__)

#: Tried this often, backing off to an hour between attempts: about nine hours of mail
#: server trouble before an e-mail is given up.
STORED_MAX_ATTEMPTS = 14
STORED_MAX_BACKOFF = datetime.timedelta(hours=1)


def sending_lease() -> datetime.timedelta:
    """How long a *pending* row belongs to the worker that claimed it.

    One SMTP exchange is about ten socket operations (connect, greeting, EHLO, STARTTLS,
    AUTH, MAIL, RCPT, DATA, the message, QUIT), each bounded by ``EMAIL_TIMEOUT``: a worker
    still holding a row after ten of those has died (SIGKILL, a lost node) or lost its
    database, and the sweeper takes the row over. 5 minutes with the default 30 s.
    """
    return datetime.timedelta(seconds=10 * (settings.EMAIL_TIMEOUT or 30))


def message_id(key: str, recipient: str) -> str:
    """The same ``Message-ID`` for every attempt of one e-mail: the idempotency key as the
    receiving side sees it (a mail server or client that sees it twice may drop the copy)."""
    digest = hashlib.sha256(f"{key}\n{recipient}".encode()).hexdigest()[:40]
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = sender.rpartition("@")[2] if "@" in sender else "msdportaal"
    return f"<{digest}@{domain}>"


def queue_email(
    key: str, email: EmailMultiAlternatives, municipality: Municipality | None = None
) -> list[EmailLedger]:
    """Writes ``email`` to the ledger, one *queued* row per recipient, in the caller's
    transaction; after the commit a task sends it.

    Call it from inside the transaction that makes the event true, so the e-mail exists
    exactly when the event does. A second call for the same key and recipient is a no-op.
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
                        subject=" ".join(str(email.subject).split())[:300],
                        body=str(email.body),
                        html=str(html),
                    )
                )
        except IntegrityError:
            continue  # already queued or sent for this event
    for row in rows:
        # robust: whatever goes wrong here after the commit (the broker away) must not turn
        # the committed request into an error; the sweeper sends the row anyway.
        transaction.on_commit(lambda pk=row.pk: trigger_email(pk), robust=True)
    return rows


def queued_recipients(key: str) -> set[str]:
    """Who already has a row for this key (to skip rendering an e-mail nobody will get)."""
    return set(EmailLedger.objects.filter(key=key).values_list("recipient", flat=True))


def trigger_email(row_id: int, countdown: float = 0) -> None:
    from .tasks import send_stored_email

    try:
        send_stored_email.apply_async((row_id,), countdown=countdown)
    except Exception:  # the broker is away: the sweeper sends it
        logger.warning("Could not queue e-mail %s; the sweeper will send it", row_id)


def _backoff(attempts: int) -> datetime.timedelta:
    """``MSD_EMAIL_RETRY_BASE_SECONDS`` (a minute) after the first failure, doubling each
    time, at most an hour."""
    step = settings.MSD_EMAIL_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(datetime.timedelta(seconds=step), STORED_MAX_BACKOFF)


def _permanent(exc: Exception) -> bool:
    """Only a refusal of *this* e-mail is final: the recipient refused with a 5xx (an
    unknown mailbox) or the message refused at DATA with a 5xx (too large, spam).

    A 5xx that is about the mail server or our account — the greeting, HELO, AUTH, the
    sender (a relay that does not accept us right now, after a failover or a password
    change) — says nothing about this e-mail: retried like any outage.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _due(now: datetime.datetime) -> Q:
    return (
        # Never tried: due at once, whatever the clocks of web and worker node say.
        Q(state=DeliveryState.QUEUED)
        | Q(state=DeliveryState.FAILED, next_attempt_at__lte=now)
        # A worker claimed it and is gone (or lost its database mid-attempt).
        | Q(
            state=DeliveryState.PENDING,
            next_attempt_at__isnull=False,
            claimed_at__lt=now - sending_lease(),
        )
    ) & Q(attempts__lt=STORED_MAX_ATTEMPTS)


def _record(row_id: int, **values: object) -> None:
    """The outcome of an attempt, recorded even through a short database hiccup.

    After the mail server accepted the e-mail, failing to mark it *sent* means sending it
    again once the lease runs out: worth a few seconds of retrying here.
    """
    for pause in (0.5, 1, 2, 4, None):
        try:
            EmailLedger.objects.filter(pk=row_id).update(**values)
            return
        except (DatabaseError, InterfaceError):
            if pause is None or transaction.get_connection().in_atomic_block:
                raise
            logger.warning("Could not record the outcome of e-mail %s; trying again", row_id)
            transaction.get_connection().close()
            time.sleep(pause)


def deliver_stored(row_id: int, now: datetime.datetime | None = None) -> bool:
    """Sends one stored e-mail if it is due and this run wins it; True when it went out.

    The claim is a conditional UPDATE on ``(attempts, state)``, and ``attempts`` only goes
    up, so a task, its retry and the sweeper never send the same row at once. A row is
    marked *sent* only after the mail server accepted it.
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
    email = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        to=[row.recipient],
        headers={"Message-ID": message_id(row.key, row.recipient)},
    )
    if row.html:
        email.attach_alternative(row.html, "text/html")
    attempts = row.attempts + 1
    try:
        email.send()
    except Exception as exc:  # the mail server is away or refuses: try again later
        delay = _backoff(attempts)
        final = _permanent(exc) or attempts >= STORED_MAX_ATTEMPTS
        logger.warning(
            "E-mail %s to %s failed (attempt %s): %s", row.key, row.recipient, attempts, exc
        )
        _record(
            row.pk,
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
    _record(row.pk, state=DeliveryState.SENT, sent_at=timezone.now(), error="")
    return True


def sweep_stored_emails(now: datetime.datetime | None = None) -> int:
    """Sends every e-mail that is due: a lost trigger, a retry whose task was lost, a row
    left *pending* by a worker that died. Returns how many went out."""
    now = now or timezone.now()
    due = EmailLedger.objects.filter(_due(now)).order_by("next_attempt_at", "pk")
    return sum(deliver_stored(pk, now) for pk in due.values_list("pk", flat=True)[:500])
