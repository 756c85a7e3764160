"""The receipt e-mail: what it says, to whom, under which key.

Deliveries only describes it. ``signals.batch_confirmed`` tells notifications a batch was
confirmed; its receiver renders these parts with the templates named here and stores the
e-mail in its outbox within the confirm's transaction, to be sent (and retried) after the
commit (``notifications/emails.py``, the same for every kind of e-mail).
"""

from __future__ import annotations

from typing import Any

from .models import UploadBatch

RECEIPT_TEMPLATES = "deliveries/emails/receipt"


def receipt_key(batch: UploadBatch) -> str:
    return f"receipt:{batch.pk}"


def receipt_email(batch: UploadBatch) -> dict[str, Any]:
    """The receipt of a confirmed batch, to the person who uploaded and confirmed it."""
    user = batch.uploaded_by
    deliveries = list(batch.deliveries.order_by("reference").prefetch_related("files__data_set"))
    return {
        "key": receipt_key(batch),
        "to": user.email,
        "templates": RECEIPT_TEMPLATES,
        "context": {
            "batch": batch,
            "deliveries": deliveries,
            "user": user,
            "municipality": batch.municipality,
            # The subject counts CSVs, as the gemeente does: a ZIP with three is three.
            "csv_count": sum(len(d.files.all()) for d in deliveries),
        },
    }
