"""Refuse to run production on a Python whose zipfile is known to misread ZIPs."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

# The first release of each line with the fix for CVE-2025-8291 (zipfile trusted the ZIP64
# record just before its locator instead of the offset in it). 3.14 conservatively from .1.
ZIPFILE_FIXED = {(3, 9): 24, (3, 10): 19, (3, 11): 14, (3, 12): 12, (3, 13): 9, (3, 14): 1}


def zipfile_is_fixed(version: tuple[int, ...]) -> bool:
    major, minor, micro = version[:3]
    if (major, minor) in ZIPFILE_FIXED:
        return micro >= ZIPFILE_FIXED[(major, minor)]
    return (major, minor) > max(ZIPFILE_FIXED)


@register("msdportaal")
def check_python_zipfile(
    app_configs: Any, version: tuple[int, ...] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    version = tuple(sys.version_info[:3]) if version is None else version
    if zipfile_is_fixed(version):
        return []
    text = (
        f"Python {'.'.join(map(str, version))} lacks the zipfile fix for CVE-2025-8291. "
        "Our own ZIP check does not use zipfile, but nothing on this node should."
    )
    hint = "Run a current patch release: 3.13.9 or later (3.12.12, 3.14.1)."
    if settings.IS_PRODUCTION_LIKE:
        return [Error(text, hint=hint, id="msdportaal.E010")]
    return [Warning(text, hint=hint, id="msdportaal.W010")]
