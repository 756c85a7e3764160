from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import UploadBatch


def send_receipt_email(batch: UploadBatch) -> None:
    user = batch.uploaded_by
    if not user.email:
        return
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
    message.send()
