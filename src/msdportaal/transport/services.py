"""The outbox state machine: queued → sending → delivered | retrying → failed."""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record

from . import client, leases
from .models import (
    AttemptOutcome,
    MessageKind,
    MessageState,
    OutboundAttempt,
    OutboundMessage,
    TransportConfiguration,
)
from .signals import message_failed, message_state_changed
from .stuf import Bv03, Fo03, ProtocolError, format_tijdstip

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.organisations.models import Municipality

logger = logging.getLogger(__name__)

#: A lease lasts this much longer than the longest an attempt can take (its time-outs).
LEASE_MARGIN_SECONDS = 15.0
#: Nodes' clocks differ a little: a retry made due "now" by one node (the release after a
#: success) is due for a node whose clock lags by up to this much.
CLOCK_TOLERANCE = datetime.timedelta(seconds=2)
#: A new message's on-commit trigger may still be on its way for this long.
TRIGGER_GRACE = datetime.timedelta(seconds=2)

SENDABLE = (MessageState.QUEUED, MessageState.RETRYING)
UNFINISHED = (MessageState.QUEUED, MessageState.SENDING, MessageState.RETRYING)


def older_unfinished(*states: MessageState) -> Exists:
    """An older message of the same zender (gemeente) that is not delivered or failed yet.

    Messages of one zender reach RINIS in ``tijdstipBericht`` order: while such an older
    message exists, a newer one waits behind it (a RINIS that enforces StUF019 refuses a
    message older than the zender's last one for good). A final failure releases the queue.
    """
    return Exists(
        OutboundMessage.objects.filter(
            municipality=OuterRef("municipality"),
            tijdstip_bericht__lt=OuterRef("tijdstip_bericht"),
            state__in=states or UNFINISHED,
        )
    )


def waits_for_earlier(message: OutboundMessage) -> bool:
    """True while *message* waits behind an older message of its gemeente that is waiting
    for a retry (what the gemeente and IB see as "wacht op eerdere aanlevering").

    A list of messages answers this in its own query: annotate the messages with
    ``waits_for_earlier=older_unfinished(MessageState.RETRYING)`` (see
    :func:`msdportaal.deliveries.selectors.delivered_files`).
    """
    if message.state not in SENDABLE:
        return False
    known = message.__dict__.get("waits_for_earlier")
    if known is not None:
        return bool(known)
    return OutboundMessage.objects.filter(
        municipality_id=message.municipality_id,
        tijdstip_bericht__lt=message.tijdstip_bericht,
        state=MessageState.RETRYING,
    ).exists()


def _next_tijdstip(municipality: Municipality) -> str:
    """``yyyyMMddHHmmssSSS``, strictly increasing per sender (the gemeente).

    Callers hold the gemeente's row lock (see :func:`enqueue`), so two messages of one
    gemeente never get the same moment.
    """
    candidate = format_tijdstip(timezone.now())
    last = (
        OutboundMessage.objects.filter(municipality=municipality)
        .order_by("-tijdstip_bericht")
        .values_list("tijdstip_bericht", flat=True)
        .first()
    )
    if last is not None and candidate <= last:
        moment = datetime.datetime.strptime(last, "%Y%m%d%H%M%S%f") + datetime.timedelta(
            milliseconds=1
        )
        candidate = moment.strftime("%Y%m%d%H%M%S%f")[:17]
    return candidate


def enqueue(
    *,
    kind: MessageKind,
    municipality: Municipality,
    administratie: str,
    stored_name: str,
    bestandsnaam: str,
    content_type: str,
    size: int,
    sha256: str,
    referentienummer_bericht: str,
    source: str,
) -> OutboundMessage:
    """Puts a message in the outbox, inside the caller's transaction.

    When that transaction commits, a Celery task is asked to send it; if the broker is
    unreachable the sweeper sends it anyway.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("enqueue() must run inside the transaction that creates the source")
    type(municipality).objects.select_for_update().get(pk=municipality.pk)
    config = TransportConfiguration.get_solo()
    message = OutboundMessage(
        kind=kind,
        municipality=municipality,
        referentienummer=str(uuid.uuid4()),
        tijdstip_bericht=_next_tijdstip(municipality),
        functie=config.functie_for(kind),
        zender_applicatie=config.application_name,
        zender_administratie=administratie,
        applicatie_versie=config.application_version,
        applicatie_subversie=config.application_subversion,
        functie_versie=config.function_version,
        functie_subversie=config.function_subversion,
        referentienummer_bericht=referentienummer_bericht,
        bestandsnaam=bestandsnaam,
        content_type=content_type,
        stored_name=stored_name,
        size=size,
        sha256=sha256,
        next_attempt_at=timezone.now(),
        source=source,
    )
    if client.envelope_length(message) > config.gb_threshold_bytes:
        message.gb_token = secrets.token_urlsafe(32)
        message.gb_expires_at = timezone.now() + datetime.timedelta(hours=config.gb_lifetime_hours)
        message.gb_announced_expiry = message.gb_expires_at
    message.save()
    # robust: a trigger that fails after the commit (the database or the broker away for a
    # moment) must not turn the committed confirm into an error; the sweeper sends it.
    transaction.on_commit(lambda: trigger(message.pk), robust=True)
    return message


def trigger(message_id: int) -> None:
    """Puts a send task for the message on the broker (queue ``rinis``). Never raises:
    whatever fails here (broker or database away), the sweeper sends the message."""
    from .tasks import send_outbound_message

    try:
        OutboundMessage.objects.filter(pk=message_id).update(triggered_at=timezone.now())
    except DatabaseError:
        logger.warning("Could not note the trigger of message %s", message_id, exc_info=True)
    try:
        send_outbound_message.delay(message_id)
    except Exception:
        logger.warning("Could not queue message %s; the sweeper will send it", message_id)
        # No task is on its way: the next sweep must not wait for it.
        with contextlib.suppress(DatabaseError):
            OutboundMessage.objects.filter(pk=message_id).update(triggered_at=None)


def lease_seconds(message: OutboundMessage) -> float:
    """How long a send of *message* may stay *sending* before another worker takes it
    over: longer than the attempt can take (connect, upload and read time-out)."""
    return client.timeouts_for(message).longest_attempt + LEASE_MARGIN_SECONDS


def claim(message_id: int, *, lease: float | None = None, token: str | None = None) -> str | None:
    """At most one send in flight per message: a conditional UPDATE takes the lease.

    Returns the lease's token, or None when the message is not ours to send. A lease that
    ran out (or whose holder died, :func:`expire_dead_leases`) may be taken over. A
    message whose zender has an older unfinished message waits (:func:`older_unfinished`).
    """
    if lease is None:
        found = OutboundMessage.objects.select_related("municipality").filter(pk=message_id)
        if (message := found.first()) is None:
            return None
        lease = lease_seconds(message)
    token = token or uuid.uuid4().hex
    now = timezone.now()
    # A queued message is due at once; a retry when its back-off is over.
    claimable = (
        (
            Q(state=MessageState.QUEUED)
            | Q(state=MessageState.RETRYING, next_attempt_at__lte=now + CLOCK_TOLERANCE)
        )
        & ~older_unfinished()
    ) | Q(state=MessageState.SENDING, lease_until__lt=now)
    with transaction.atomic():
        taken = OutboundMessage.objects.filter(claimable, pk=message_id).update(
            state=MessageState.SENDING,
            lease_until=now + datetime.timedelta(seconds=lease),
            lease_holder=leases.current_holder(),
            lease_token=token,
            # Counted when it starts, so an attempt cut short by a dying worker counts too.
            attempts=F("attempts") + 1,
        )
        if taken:
            OutboundAttempt.objects.filter(message_id=message_id, finished_at__isnull=True).update(
                finished_at=now,
                outcome=AttemptOutcome.ERROR,
                detail="De verzending is afgebroken (worker gestopt); opnieuw geprobeerd.",
            )
    return token if taken else None


def expire_dead_leases() -> list[int]:
    """Ends at once the leases whose holder was a process on this machine that is gone
    (SIGKILL, OOM): their messages are due again now, not when the lease runs out.

    RINIS may already have such a message (the worker died after sending it, before it
    wrote the Bv03 down); the resend is the same message and RINIS answers it with the
    same Bv03. Holders on other machines are left to their lease (``transport.leases``).
    """
    now = timezone.now()
    held = OutboundMessage.objects.filter(state=MessageState.SENDING, lease_until__gte=now)
    verdicts: dict[str, bool] = {}
    expired = []
    for pk, holder, token in held.values_list("pk", "lease_holder", "lease_token"):
        if holder not in verdicts:
            verdicts[holder] = leases.holder_is_gone(holder)
        if verdicts[holder] and OutboundMessage.objects.filter(
            pk=pk, state=MessageState.SENDING, lease_token=token
        ).update(lease_until=now - CLOCK_TOLERANCE):
            expired.append(pk)
    if expired:
        logger.warning(
            "%d sends were cut short by a worker that is gone; they are sent again: %s",
            len(expired),
            expired,
        )
    return expired


def sweep(lost_before: datetime.datetime | None = None) -> int:
    """What the periodic sweeper (and a worker that starts) does: ends the leases of dead
    workers on this machine and queues a send for every message that is due.

    *lost_before*: tasks queued before this moment count as lost (see :func:`due_messages`).
    """
    expired = expire_dead_leases()
    due = due_messages(lost_before)
    due += [message_id for message_id in expired if message_id not in due]
    for message_id in due:
        trigger(message_id)
    return len(due)


def backoff(attempt: int) -> datetime.timedelta:
    """Exponential with full jitter between half and the whole step."""
    step = min(
        settings.MSD_RINIS_RETRY_MAX_SECONDS,
        settings.MSD_RINIS_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    return datetime.timedelta(seconds=step * random.uniform(0.5, 1.0))  # noqa: S311


def attempt_send(message_id: int) -> MessageState | None:
    """One attempt. Returns the new state, or None when another worker has it / it's done.

    Every log line of the attempt names the message (``message_id``, ``referentienummer``).
    A database that is away when the task starts is waited for (``CLAIM_PATIENCE_SECONDS``):
    the task would otherwise be spent, and the message wait for the sweeper.
    """
    started = time.monotonic()
    message = despite_database_trouble(
        lambda: (
            OutboundMessage.objects.select_related("municipality").filter(pk=message_id).first()
        ),
        until=started + CLAIM_PATIENCE_SECONDS,
        what="reading the message",
    )
    if message is None:
        return None
    with structlog.contextvars.bound_contextvars(
        message_id=message_id, referentienummer=message.referentienummer
    ):
        return _attempt_send(message, started)


def despite_database_trouble[R](operation: Callable[[], R], *, until: float, what: str) -> R:
    """Runs *operation*; while the database is away (a restart, a dropped connection, a
    lock) it tries again on a fresh connection, until ``time.monotonic()`` passes *until*.

    *operation* must be safe to repeat (its own transaction, or a check first). Inside
    someone else's transaction nothing is repeated: that transaction is lost anyway.
    """
    pause = 0.1
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + pause > until:
                raise
            logger.warning("Database unavailable while %s (%s); trying again", what, exc)
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


#: How long a send task keeps trying to claim its message while the database is away.
CLAIM_PATIENCE_SECONDS = 10.0


def _attempt_send(message: OutboundMessage, started: float) -> MessageState | None:
    message_id = message.pk
    timeouts = client.timeouts_for(message)
    lease = timeouts.longest_attempt + LEASE_MARGIN_SECONDS
    token = uuid.uuid4().hex

    def claim_once() -> bool:
        # A claim that committed while its connection broke is ours: check before claiming.
        if OutboundMessage.objects.filter(
            pk=message_id, state=MessageState.SENDING, lease_token=token
        ).exists():
            return True
        return claim(message_id, lease=lease, token=token) is not None

    if not despite_database_trouble(
        claim_once, until=started + CLAIM_PATIENCE_SECONDS, what="claiming the message"
    ):
        return None
    # From here on the message is ours until the lease ends: whatever the database does,
    # the outcome is written while it lasts (after that another worker may take it over).
    lease_ends = started + lease

    def prepare() -> tuple[OutboundMessage, TransportConfiguration, OutboundAttempt]:
        claimed = OutboundMessage.objects.select_related("municipality").get(pk=message_id)
        attempt = OutboundAttempt.objects.filter(message_id=message_id, number=claimed.attempts)
        return (
            claimed,
            TransportConfiguration.get_solo(),
            attempt.first()
            or OutboundAttempt.objects.create(
                message=claimed, number=claimed.attempts, started_at=timezone.now()
            ),
        )

    message, config, attempt = despite_database_trouble(
        prepare, until=lease_ends, what="starting the attempt"
    )
    try:
        answer = client.send(message, config, timeouts)
    except Exception as exc:  # a bug or a broken file must not leave the message "sending"
        logger.exception("Sending message %s failed unexpectedly", message.pk)
        answer = ProtocolError(
            reason=f"{type(exc).__name__}: {exc}"[:500], status_code=0, content_type="", excerpt=""
        )
    # The outcome is known now: it must reach the database, or the message would stay
    # "sending" although RINIS answered.
    return despite_database_trouble(
        lambda: _record_outcome(message_id, token, attempt, answer, config),
        until=lease_ends,
        what="recording RINIS's answer",
    )


def _record_outcome(
    message_id: int,
    token: str,
    attempt: OutboundAttempt,
    answer: Bv03 | Fo03 | ProtocolError,
    config: TransportConfiguration,
) -> MessageState:
    """Writes one attempt's outcome, in one transaction (safe to repeat)."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .select_related("municipality")
            .get(pk=message_id)
        )
        attempt.finished_at = now
        if isinstance(answer, Bv03):
            attempt.outcome, attempt.http_status = AttemptOutcome.ACCEPTED, answer.status_code
        elif isinstance(answer, Fo03):
            attempt.outcome, attempt.stuf_code = AttemptOutcome.REFUSED, answer.code
            attempt.detail = f"Fo03 {answer.code} ({answer.plek}): {answer.omschrijving}"
        else:
            attempt.outcome, attempt.http_status = AttemptOutcome.ERROR, answer.status_code or None
            attempt.detail = f"{answer.reason} {answer.excerpt}".strip()
        attempt.save()
        ours = message.state == MessageState.SENDING and message.lease_token == token
        if not ours and not (isinstance(answer, Bv03) and message.state != MessageState.DELIVERED):
            # Our lease ran out and another attempt has the message (or finished it): its
            # outcome decides. Only a Bv03 is news in any case: RINIS has the message.
            logger.info(
                "message %s attempt %s: %s, after another attempt took over",
                message.referentienummer,
                attempt.number,
                attempt.outcome,
            )
            return MessageState(message.state)
        message.lease_until = None
        if isinstance(answer, Bv03):
            message.state, message.delivered_at, message.last_error = (
                MessageState.DELIVERED,
                now,
                "",
            )
        else:
            message.last_error = attempt.detail[:2000]
            deadline = message.window_started_at + datetime.timedelta(
                hours=config.retry_window_hours
            )
            next_at = now + backoff(attempt.number)
            if (isinstance(answer, Fo03) and answer.final) or next_at > deadline:
                message.state, message.failed_at, message.next_attempt_at = (
                    MessageState.FAILED,
                    now,
                    None,
                )
            else:
                message.state, message.next_attempt_at = MessageState.RETRYING, next_at
        message.save()
        if message.state == MessageState.FAILED:
            message_failed.send(OutboundMessage, message=message)  # IB's alert, in this commit
        # After the commit, and never undoing it (robust): the outcome is what counts.
        transaction.on_commit(
            lambda: message_state_changed.send(OutboundMessage, message=message), robust=True
        )
        if message.state in (MessageState.DELIVERED, MessageState.FAILED):
            transaction.on_commit(lambda: trigger_next_of(message), robust=True)
        if message.state == MessageState.DELIVERED:
            transaction.on_commit(release_waiting, robust=True)
    logger.info(
        "message %s attempt %s: %s", message.referentienummer, attempt.number, message.state
    )
    return MessageState(message.state)


def trigger_next_of(message: OutboundMessage) -> None:
    """*message* is done: the next message of its zender, waiting behind it, may go."""
    following = (
        OutboundMessage.objects.filter(
            municipality_id=message.municipality_id,
            state__in=SENDABLE,
            tijdstip_bericht__gt=message.tijdstip_bericht,
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("tijdstip_bericht")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        trigger(following)


def release_waiting() -> list[int]:
    """A send just succeeded, so RINIS (our one endpoint) answers again: messages waiting
    for a retry after a failure of the endpoint (no StUF answer: connection, time-out,
    HTTP error) are due now instead of after their back-off.

    Gently: at most ``MSD_OUTBOX_RECOVERY_BATCH`` messages are in flight (sending, or due
    and triggered) at a time; every success releases the next ones, so a backlog drains
    at that pace. A message refused with a Fo03 keeps its back-off.
    """
    now = timezone.now()
    limit = settings.MSD_OUTBOX_RECOVERY_BATCH
    in_flight = OutboundMessage.objects.filter(
        Q(state=MessageState.SENDING) | Q(state__in=SENDABLE, next_attempt_at__lte=now)
    ).count()
    room = limit - in_flight
    if room <= 0:
        return []
    endpoint_failed = Exists(
        OutboundAttempt.objects.filter(
            message=OuterRef("pk"), number=OuterRef("attempts"), outcome=AttemptOutcome.ERROR
        )
    )
    released = list(
        OutboundMessage.objects.filter(
            endpoint_failed, state=MessageState.RETRYING, next_attempt_at__gt=now
        )
        .exclude(older_unfinished())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:room]
    )
    OutboundMessage.objects.filter(pk__in=released, state=MessageState.RETRYING).update(
        next_attempt_at=now
    )
    for message_id in released:
        trigger(message_id)
    if released:
        logger.info("RINIS answers again: %d waiting messages released", len(released))
    return released


def due_messages(lost_before: datetime.datetime | None = None) -> list[int]:
    """What the sweeper should trigger: retries that are due, sends whose lease ran out
    (or whose worker died), and new messages whose on-commit task seems lost.

    Each only when its last trigger came before it became due, or failed, or was queued
    before *lost_before* (by default 2 sweeps ago; a worker that reconnects to the broker
    passes the moment it did, as a restarted Redis has lost every task queued before): a
    message whose task is still on its way is left to it, or every sweep would queue a
    duplicate.
    """
    now = timezone.now()
    lost_after = lost_before or now - datetime.timedelta(
        seconds=2 * settings.MSD_OUTBOX_SWEEP_SECONDS
    )
    not_recently = Q(triggered_at__isnull=True) | Q(triggered_at__lte=lost_after)
    retry = Q(state=MessageState.RETRYING, next_attempt_at__lte=now) & (
        not_recently | Q(triggered_at__lt=F("next_attempt_at"))
    )
    # A new (or resent) message first gets TRIGGER_GRACE for its on-commit trigger, except
    # after a reconnect: a duplicate task then does no harm, a wait of a sweep would.
    grace = TRIGGER_GRACE if lost_before is None else datetime.timedelta(0)
    new = Q(state=MessageState.QUEUED, next_attempt_at__lte=now - grace) & (
        not_recently | Q(triggered_at__lt=F("next_attempt_at"))
    )
    abandoned = Q(state=MessageState.SENDING, lease_until__lt=now) & (
        not_recently | Q(triggered_at__lt=F("lease_until"))
    )
    return list(
        OutboundMessage.objects.filter(((retry | new) & ~older_unfinished()) | abandoned)
        .order_by("tijdstip_bericht")
        .values_list("pk", flat=True)[:500]
    )


def resend(message: OutboundMessage, request: HttpRequest | None = None) -> bool:
    """IB sends a failed message again: same referentienummer and tijdstipBericht."""
    with transaction.atomic():
        config = TransportConfiguration.get_solo()
        changes = {
            "state": MessageState.QUEUED,
            "next_attempt_at": timezone.now(),
            "failed_at": None,
            "window_started_at": timezone.now(),
        }
        if message.uses_grote_berichten:  # RINIS must be able to fetch the file again
            changes["gb_expires_at"] = timezone.now() + datetime.timedelta(
                hours=config.gb_lifetime_hours
            )
        updated = OutboundMessage.objects.filter(pk=message.pk, state=MessageState.FAILED).update(
            **changes
        )
        if updated:
            record(
                AuditAction.MESSAGE_RESENT,
                request=request,
                municipality=message.municipality,
                target=message,
                message=f"{message.referentienummer_bericht} {message.bestandsnaam}",
            )
            transaction.on_commit(lambda: trigger(message.pk))
    return bool(updated)
