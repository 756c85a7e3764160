"""The receipt e-mail, composed here and sent by the notifications app.

Deliveries only renders it: ``signals.batch_confirmed`` tells notifications a batch was
confirmed, and its receiver stores this message in the e-mail ledger within the confirm's
transaction, to be sent (and retried) by a Celery task after the commit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import UploadBatch


def receipt_key(batch: UploadBatch) -> str:
    return f"receipt:{batch.pk}"


def receipt_email(batch: UploadBatch) -> EmailMultiAlternatives | None:
    """The receipt for a confirmed batch, to the person who confirmed it (None without an
    e-mail address)."""
    user = batch.uploaded_by
    if not user.email:
        return None
    deliveries = list(batch.deliveries.order_by("reference").prefetch_related("files__data_set"))
    context = {
        "batch": batch,
        "deliveries": deliveries,
        "user": user,
        "municipality": batch.municipality,
    }
    subject = render_to_string("deliveries/emails/receipt_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("deliveries/emails/receipt.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(
        render_to_string("deliveries/emails/receipt.html", context), "text/html"
    )
    return message
