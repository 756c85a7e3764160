from celery import shared_task

from . import uploads


@shared_task(name="msdportaal.api.remove_expired_uploads")
def remove_expired_uploads() -> int:
    """Resumable uploads left unfinished past their expiry, with their stored parts."""
    return uploads.remove_expired()
