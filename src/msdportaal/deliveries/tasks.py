from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import UploadBatch
from .services import discard_batch

logger = logging.getLogger(__name__)

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


@shared_task
def remove_orphaned_upload_files() -> int:
    """Temporary upload files whose request died (a killed web worker, a vanished client).

    A request that ends in any normal way removes its own temporary files; only a process
    that died mid-upload leaves one behind, and then nothing else ever will. A file that is
    still being written is touched by every chunk, so its modification time says how long
    it has been left alone: older than ``MSD_UPLOAD_TMP_MAX_IDLE_MINUTES``, it is an orphan.
    Only regular files directly in FILE_UPLOAD_TEMP_DIR are considered.
    """
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    cutoff = time.time() - settings.MSD_UPLOAD_TMP_MAX_IDLE_MINUTES * 60
    removed = 0
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            info = path.lstat()
            if not path.is_file() or path.is_symlink() or info.st_mtime >= cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # its request finished and removed it meanwhile
        removed += 1
        logger.warning("removed orphaned upload file %s (%d bytes)", path.name, info.st_size)
    return removed
