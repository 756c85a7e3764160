from __future__ import annotations

from celery import shared_task

from .retention import purge_expired


@shared_task
def apply_retention() -> int:
    """Daily: remove the contents of files whose retention term has passed."""
    return purge_expired().total
