from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from .models import UploadBatch
from .services import discard_batch

#: An upload nobody confirmed within this time is removed with its files.
UNCONFIRMED_BATCH_LIFETIME = datetime.timedelta(hours=24)


@shared_task
def discard_unconfirmed_batches() -> int:
    """Files uploaded but never confirmed are not deliveries; don't keep them."""
    cutoff = timezone.now() - UNCONFIRMED_BATCH_LIFETIME
    stale = UploadBatch.objects.filter(confirmed_at__isnull=True, created_at__lt=cutoff)
    count = 0
    for batch in stale:
        discard_batch(batch)
        count += 1
    return count
