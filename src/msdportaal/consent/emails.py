"""The confirmation e-mail for a submitted consent form, composed here and sent by the
notifications app (it stores this message in its e-mail ledger when ``consent_submitted``
arrives inside the submission's transaction, then sends and retries it)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import ConsentForm


def confirmation_key(form: ConsentForm) -> str:
    return f"consent-confirmation:{form.pk}"


def confirmation_email(form: ConsentForm) -> EmailMultiAlternatives | None:
    """To the person who decided (the address given on the form)."""
    if not form.email:
        return None
    context = {
        "form": form,
        "consents": list(form.consents.order_by("position")),
        "municipality": form.municipality,
        "period": form.period,
    }
    subject = render_to_string("consent/emails/confirmation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("consent/emails/confirmation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[form.email],
    )
    message.attach_alternative(
        render_to_string("consent/emails/confirmation.html", context), "text/html"
    )
    return message
