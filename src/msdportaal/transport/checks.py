from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register("msdportaal")
def check_rinis_settings(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    """Without these, deliveries are accepted but never leave: say so at start-up."""
    if not settings.IS_PRODUCTION_LIKE:
        return []
    problems: list[Error | Warning] = []
    for name in ("MSD_RINIS_URL", "MSD_RINIS_FACING_URL"):
        if not getattr(settings, name):
            problems.append(Error(f"{name} is not set.", id="msdportaal.E001"))
    if settings.MSD_RINIS_URL and not settings.MSD_RINIS_URL.startswith("https://"):
        problems.append(Error("MSD_RINIS_URL must be an https:// URL.", id="msdportaal.E002"))
    if settings.MSD_TRUST_CLIENT_CERT_HEADERS and len(settings.MSD_PROXY_SECRET) < 32:
        problems.append(
            Error(
                "MSD_TRUST_CLIENT_CERT_HEADERS is on but MSD_PROXY_SECRET is missing or "
                "shorter than 32 characters: the certificate headers would count for nothing.",
                hint="Set the same random value in the proxy (docs/security.md).",
                id="msdportaal.E003",
            )
        )
    return problems
