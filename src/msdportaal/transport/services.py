"""The outbox state machine: queued → sending → delivered | retrying → failed."""

from __future__ import annotations

import datetime
import logging
import random
import secrets
import uuid
from typing import TYPE_CHECKING

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record

from . import client
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
    from .tasks import send_outbound_message

    OutboundMessage.objects.filter(pk=message_id).update(triggered_at=timezone.now())

    try:
        send_outbound_message.delay(message_id)
    except Exception:  # the sweeper picks the message up
        logger.warning("Could not queue message %s; the sweeper will send it", message_id)


def lease_seconds() -> float:
    return settings.MSD_RINIS_CONNECT_TIMEOUT + settings.MSD_RINIS_READ_TIMEOUT + 60


def claim(message_id: int) -> bool:
    """At most one send in flight per message: a conditional UPDATE takes the lease.

    A lease that ran out (a worker died mid-send) may be taken over. A message whose
    zender has an older unfinished message waits (:func:`older_unfinished`).
    """
    now = timezone.now()
    claimable = (Q(state__in=SENDABLE, next_attempt_at__lte=now) & ~older_unfinished()) | Q(
        state=MessageState.SENDING, lease_until__lt=now
    )
    taken = OutboundMessage.objects.filter(claimable, pk=message_id).update(
        state=MessageState.SENDING,
        lease_until=now + datetime.timedelta(seconds=lease_seconds()),
        # Counted when it starts, so an attempt cut short by a dying worker counts too.
        attempts=F("attempts") + 1,
    )
    if taken:
        OutboundAttempt.objects.filter(message_id=message_id, finished_at__isnull=True).update(
            finished_at=now,
            outcome=AttemptOutcome.ERROR,
            detail="De verzending is afgebroken (worker gestopt); opnieuw geprobeerd.",
        )
    return taken == 1


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
    """
    referentienummer = (
        OutboundMessage.objects.filter(pk=message_id)
        .values_list("referentienummer", flat=True)
        .first()
    )
    with structlog.contextvars.bound_contextvars(
        message_id=message_id, referentienummer=referentienummer
    ):
        return _attempt_send(message_id)


def _attempt_send(message_id: int) -> MessageState | None:
    if not claim(message_id):
        return None
    message = OutboundMessage.objects.select_related("municipality").get(pk=message_id)
    config = TransportConfiguration.get_solo()
    attempt = OutboundAttempt.objects.create(
        message=message, number=message.attempts, started_at=timezone.now()
    )
    try:
        answer = client.send(message, config)
    except Exception as exc:  # a bug or a broken file must not leave the message "sending"
        logger.exception("Sending message %s failed unexpectedly", message.pk)
        answer = ProtocolError(
            reason=f"{type(exc).__name__}: {exc}"[:500], status_code=0, content_type="", excerpt=""
        )
    now = timezone.now()
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().get(pk=message_id)
        message.lease_until = None
        attempt.finished_at = now
        if isinstance(answer, Bv03):
            attempt.outcome, attempt.http_status = AttemptOutcome.ACCEPTED, answer.status_code
            message.state, message.delivered_at, message.last_error = (
                MessageState.DELIVERED,
                now,
                "",
            )
        else:
            if isinstance(answer, Fo03):
                attempt.outcome, attempt.stuf_code = AttemptOutcome.REFUSED, answer.code
                attempt.detail = f"Fo03 {answer.code} ({answer.plek}): {answer.omschrijving}"
            else:
                attempt.outcome, attempt.http_status = (
                    AttemptOutcome.ERROR,
                    answer.status_code or None,
                )
                attempt.detail = f"{answer.reason} {answer.excerpt}".strip()
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
        attempt.save()
        message.save()
        if message.state == MessageState.FAILED:
            message_failed.send(OutboundMessage, message=message)  # IB's alert, in this commit
        transaction.on_commit(lambda: message_state_changed.send(OutboundMessage, message=message))
        if message.state in (MessageState.DELIVERED, MessageState.FAILED):
            transaction.on_commit(lambda: trigger_next_of(message))
        if message.state == MessageState.DELIVERED:
            transaction.on_commit(release_waiting)
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


def due_messages() -> list[int]:
    """What the sweeper should trigger: retries that are due, sends a dead worker left
    behind, and new messages whose on-commit task seems lost (not the ones it is still
    bringing, or every sweep would queue a duplicate task)."""
    now = timezone.now()
    lost_after = now - datetime.timedelta(seconds=2 * settings.MSD_OUTBOX_SWEEP_SECONDS)
    return list(
        OutboundMessage.objects.exclude(triggered_at__gt=lost_after)
        .filter(
            (
                (
                    Q(state=MessageState.RETRYING, next_attempt_at__lte=now)
                    | Q(state=MessageState.QUEUED, next_attempt_at__lte=lost_after)
                )
                & ~older_unfinished()
            )
            | Q(state=MessageState.SENDING, lease_until__lt=now)
        )
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
