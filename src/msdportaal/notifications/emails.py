"""What every user-facing e-mail has in common: its templates, its sender, the outbox.

Each kind of e-mail is three templates side by side, ``<base>_subject.txt``,
``<base>.txt`` and ``<base>.html``, rendered with one context. The app that owns the event
knows the per-kind part: the key that names the e-mail, the address, the templates and the
context (``deliveries/emails.py``, ``consent/emails.py``, ``transport/emails.py``, and the
notifications in this app's ``services.py``). It hands them over as a plain mapping with
the keys of :class:`EmailParts`, so it never imports this app (DESIGN.md §6); rendering
and storing the e-mail in the outbox (:mod:`.outbox`) happen here, the same way for all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from msdportaal.organisations.models import Municipality

from .models import EmailLedger
from .outbox import queue_email, queued_recipients


class EmailParts(TypedDict):
    """One e-mail, as the app that owns its event describes it."""

    #: Names the e-mail: unique per event (and per gemeente, where the event is not).
    key: str
    #: The one recipient; empty: nobody to send it to.
    to: str
    #: ``deliveries/emails/receipt`` for ``…receipt_subject.txt``, ``….txt``, ``….html``.
    templates: str
    context: dict[str, Any]


def compose(templates: str, context: Mapping[str, Any], to: str) -> EmailMultiAlternatives:
    """The e-mail from its three templates; the subject on one line (a header)."""
    subject = " ".join(render_to_string(f"{templates}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{templates}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string(f"{templates}.html", context), "text/html")
    return message


def queue_composed(
    parts: Mapping[str, Any] | None, municipality: Municipality | None
) -> list[EmailLedger]:
    """Renders *parts* and stores the e-mail in the outbox, in the caller's transaction.

    Nothing when there is no one to send it to, or when it is already queued or sent for
    this key and address (then it is not even rendered).
    """
    if not parts or not parts["to"]:
        return []
    if parts["to"].lower() in queued_recipients(parts["key"]):
        return []
    email = compose(parts["templates"], parts["context"], parts["to"])
    return queue_email(parts["key"], email, municipality)
