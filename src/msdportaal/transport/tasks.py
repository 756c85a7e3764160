from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_outbound_message(message_id: int) -> str | None:
    """One attempt; a retry is picked up by the sweeper when it is due.

    Routed to the queue ``rinis`` (``msdportaal.celery.RINIS_QUEUE``).
    """
    return services.attempt_send(message_id)


@shared_task
def sweep_outbox() -> int:
    """Sends whatever is due and has no task on its way (lost task, dead worker)."""
    return services.sweep()


@worker_ready.connect
def recover_on_start(**_kwargs: Any) -> None:
    """A worker that starts (e.g. the one that replaces a killed worker) sweeps at once:
    sends that a dead process on this machine left *sending* go again now."""
    try:
        services.sweep()
    except Exception:  # the periodic sweeper tries again
        logger.exception("The start-up sweep of the outbox failed")
    finally:
        connections.close_all()  # not inherited by pool processes forked later
