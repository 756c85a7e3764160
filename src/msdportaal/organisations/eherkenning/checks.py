"""Start-up checks for the eHerkenning settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from .assertion import LOA_ORDER, parse_loa


@register()
def check_eherkenning_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    loa = parse_loa(settings.MSD_EHERKENNING_MIN_LOA)
    if loa is None:
        problems.append(
            Error(
                f"MSD_EHERKENNING_MIN_LOA={settings.MSD_EHERKENNING_MIN_LOA!r} is geen "
                "betrouwbaarheidsniveau.",
                hint="Kies loa2, loa2plus, loa3 of loa4 (of EH2, EH2+, EH3, EH4).",
                id="msd_eherkenning.E001",
            )
        )
    elif LOA_ORDER.index(loa) < LOA_ORDER.index("loa3"):
        problems.append(
            Warning(
                f"MSD_EHERKENNING_MIN_LOA={settings.MSD_EHERKENNING_MIN_LOA!r} ligt onder EH3, "
                "het niveau dat het ontwerp voorschrijft.",
                id="msd_eherkenning.W001",
            )
        )
    if settings.MSD_EHERKENNING_TIMEOUT <= 0:
        problems.append(
            Error("MSD_EHERKENNING_TIMEOUT moet groter dan 0 zijn.", id="msd_eherkenning.E002")
        )
    return problems
