"""IB's alert about a message RINIS did not accept for good: what it says, to whom, under
which key. ``signals.message_failed`` is sent inside the transaction that records the
failure; notifications renders these parts and stores the e-mail in its outbox there
(``notifications/emails.py``), so the alert is sent and retried like every other e-mail."""

from __future__ import annotations

import logging
from typing import Any

from .models import OutboundMessage, TransportConfiguration

logger = logging.getLogger(__name__)

FAILURE_ALERT_TEMPLATES = "transport/emails/failure_alert"


def failure_alert_key(message: OutboundMessage) -> str:
    """One alert per failure: a message IB resends that fails again alerts again."""
    assert message.failed_at is not None
    return f"rinis-failed:{message.pk}:{message.failed_at.isoformat()}"


def failure_alert_email(message: OutboundMessage) -> dict[str, Any] | None:
    address = TransportConfiguration.get_solo().ib_alert_email
    if not address:
        logger.error("Message %s failed and no IB alert address is configured", message.pk)
        return None
    return {
        "key": failure_alert_key(message),
        "to": address,
        "templates": FAILURE_ALERT_TEMPLATES,
        "context": {"message": message, "municipality": message.municipality},
    }
