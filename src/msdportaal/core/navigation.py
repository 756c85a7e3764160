"""The main menu. Apps add their entries here as they arrive."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str
    #: URL names (``namespace:``-prefixes allowed) under which this item counts as active.
    section: tuple[str, ...]


MENU: tuple[MenuItem, ...] = (
    MenuItem(_("Overzicht"), "core:overview", ("core:overview",)),
    MenuItem(
        _("Aanleveren"),
        "deliveries:upload",
        ("deliveries:upload", "deliveries:check", "deliveries:confirmation"),
    ),
    MenuItem(
        _("Mijn aanleveringen"), "deliveries:history", ("deliveries:history", "deliveries:detail")
    ),
    MenuItem(_("Rapporten"), "reports:inbox", ("reports:inbox",)),
    MenuItem(_("Mijn gegevens"), "organisations:profile", ("organisations:profile",)),
)


def navigation(request: HttpRequest) -> list[dict[str, object]]:
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = []
    for item in MENU:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # the app behind this item is not installed (yet)
        items.append({"label": item.label, "url": url, "active": current in item.section})
    return items
