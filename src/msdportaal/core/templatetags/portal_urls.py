"""Links in e-mails: a URL name made absolute with the portal's public address.

{% load portal_urls %}{% absolute_url "deliveries:receipt" batch.pk %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag
def absolute_url(view_name: str, *args: Any, **kwargs: Any) -> str:
    """``MSD_PUBLIC_URL`` + the path (e-mails are sent by workers, without a request)."""
    return settings.MSD_PUBLIC_URL + reverse(view_name, args=args or None, kwargs=kwargs or None)
