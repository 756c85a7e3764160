"""The confirmation e-mail of a submitted consent form: what it says, to whom, under which
key. Notifications renders and stores it when ``consent_submitted`` arrives inside the
submission's transaction, then sends and retries it (``notifications/emails.py``)."""

from __future__ import annotations

from typing import Any

from .models import ConsentForm

CONFIRMATION_TEMPLATES = "consent/emails/confirmation"


def confirmation_key(form: ConsentForm) -> str:
    return f"consent-confirmation:{form.pk}"


def confirmation_email(form: ConsentForm) -> dict[str, Any]:
    """To the person who decided (the address given on the form)."""
    return {
        "key": confirmation_key(form),
        "to": form.email,
        "templates": CONFIRMATION_TEMPLATES,
        "context": {
            "form": form,
            "consents": list(form.consents.order_by("position")),
            "municipality": form.municipality,
            "period": form.period,
        },
    }
