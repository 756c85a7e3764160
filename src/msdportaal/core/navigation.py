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
    MenuItem(_("Overzicht"), "overview:index", ("overview:index",)),
    MenuItem(
        _("Aanleveren"),
        "deliveries:upload",
        ("deliveries:upload", "deliveries:check", "deliveries:confirmation"),
    ),
    MenuItem(
        _("Mijn aanleveringen"),
        "deliveries:history",
        ("deliveries:history", "deliveries:detail", "deliveries:receipt"),
    ),
    MenuItem(_("Rapporten"), "reports:inbox", ("reports:inbox",)),
    MenuItem(
        _("Meldingen"),
        "notifications:inbox",
        ("notifications:inbox", "notifications:contacts", "notifications:edit_contact"),
    ),
    MenuItem(
        _("Toestemming"),
        "consent:forms",
        ("consent:forms", "consent:check", "consent:confirmation", "consent:receipt"),
    ),
    MenuItem(_("Mijn gegevens"), "organisations:profile", ("organisations:profile",)),
)


def navigation(
    request: HttpRequest, badges: dict[str, int] | None = None
) -> list[dict[str, object]]:
    """The menu for this request; ``badges`` adds a count (e.g. unread) per URL name."""
    badges = badges or {}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = []
    for item in MENU:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # the app behind this item is not installed (yet)
        items.append(
            {
                "label": item.label,
                "url": url,
                "active": current in item.section,
                "badge": badges.get(item.url_name, 0),
            }
        )
    return items
