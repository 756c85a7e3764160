from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def send_outbound_message(message_id: int) -> str | None:
    """One attempt; a retry is picked up by the sweeper when it is due."""
    return services.attempt_send(message_id)


@shared_task
def sweep_outbox() -> int:
    """Sends whatever is due and has no task on its way (lost task, dead worker)."""
    due = services.due_messages()
    for message_id in due:
        services.trigger(message_id)
    return len(due)
