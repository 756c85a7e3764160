from celery import shared_task

from .outbox import deliver_stored, sweep_stored_emails
from .schedule import run_daily


@shared_task
def daily_notifications() -> dict[str, int]:
    """Beat runs this every hour; the ledger makes every run after the first a no-op."""
    return run_daily()


@shared_task
def send_stored_email(row_id: int) -> bool:
    """Triggered after the commit that queued the e-mail; a failure schedules the next try."""
    return deliver_stored(row_id)


@shared_task
def sweep_emails() -> int:
    """Beat runs this every ``MSD_EMAIL_SWEEP_SECONDS``: e-mails whose trigger or retry was
    lost, or whose worker died."""
    return sweep_stored_emails()
