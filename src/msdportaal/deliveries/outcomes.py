"""CBS's verdict per CSV, for the pages of this app.

The verdict is decided in ``reports`` (``reports.selectors.file_outcomes``), which sits
above ``deliveries`` (docs/architecture.md). ``reports`` registers that function here in
its ``AppConfig.ready()``, as apps register inbound handlers with ``transport``, so the
history and the detail page show the same outcome as the overview without ``deliveries``
importing ``reports``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .models import DeliveredFile

OutcomeProvider = Callable[[Iterable[DeliveredFile]], dict[int, Any]]

_provider: OutcomeProvider | None = None


def register_outcome_provider(provider: OutcomeProvider) -> None:
    global _provider
    _provider = provider


def outcomes(files: Iterable[DeliveredFile]) -> dict[int, Any]:
    """DeliveredFile id → its outcome (``reports.selectors.SetOutcome``); empty without
    the reports app."""
    return _provider(files) if _provider is not None else {}
