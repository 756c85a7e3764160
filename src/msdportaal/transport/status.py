"""How far a message got, in the words a gemeente sees (deliveries, consent forms)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import formats, timezone
from django.utils.translation import gettext

from .models import MessageState, OutboundMessage
from .services import waits_for_earlier


@dataclass(frozen=True)
class ForwardingStatus:
    label: str
    detail: str
    tone: str  # ok | warning | error | neutral (the msd-status modifiers)


def forwarding_status(message: OutboundMessage | None) -> ForwardingStatus:
    if message is not None and waits_for_earlier(message):
        # Messages of one gemeente reach RINIS in order (services.older_unfinished).
        return ForwardingStatus(
            gettext("Nog niet doorgestuurd"),
            gettext("nog niet doorgestuurd — wacht op eerdere aanlevering"),
            "warning",
        )
    if message is None or message.state in (MessageState.QUEUED, MessageState.SENDING):
        return ForwardingStatus(
            gettext("Ontvangen"), gettext("wordt doorgestuurd naar CBS"), "neutral"
        )
    if message.state == MessageState.DELIVERED:
        when = formats.date_format(timezone.localtime(message.delivered_at), "j F Y H:i")
        return ForwardingStatus(
            gettext("Doorgestuurd"), gettext("doorgestuurd naar CBS op %s") % when, "ok"
        )
    if message.state == MessageState.RETRYING:
        when = formats.time_format(timezone.localtime(message.next_attempt_at), "H:i")
        return ForwardingStatus(
            gettext("Nog niet doorgestuurd"),
            gettext("nog niet doorgestuurd — nieuwe poging om %s") % when,
            "warning",
        )
    return ForwardingStatus(gettext("Mislukt"), gettext("mislukt — IB is ingelicht"), "error")
