"""Writing to the audit trail. Every module records through :func:`record`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from msdportaal.core.client_ip import client_ip

from . import chain
from .models import AuditAction, AuditEntry

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.organisations.models import Municipality


class _FromRequest:
    """Marker: take the gemeente from the request (the one the user acts for now)."""


FROM_REQUEST = _FromRequest()


def record(
    action: AuditAction,
    *,
    request: HttpRequest | None = None,
    user: Any = None,
    municipality: Municipality | _FromRequest | None = FROM_REQUEST,
    target: models.Model | None = None,
    message: str = "",
    **details: Any,
) -> AuditEntry:
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    if isinstance(municipality, _FromRequest):
        municipality = getattr(request, "acting_municipality", None) if request else None
    entry = AuditEntry(
        action=action,
        user=user if user is not None and getattr(user, "pk", None) else None,
        user_repr=_user_repr(user),
        municipality=municipality,
        ip_address=client_ip(request),
        object_type=target._meta.label if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        message=_without_nul(message[:500]),
        details=_without_nul(details),
    )
    # At the end of the hash chain, under its lock (chain.py).
    return chain.append(entry)


def _without_nul(value: Any) -> Any:
    """A refused input may hold NUL (a file name), which PostgreSQL's text and jsonb cannot
    store: the audit keeps it visibly, as the four characters ``\\x00``."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def _user_repr(user: Any) -> str:
    if user is None or not getattr(user, "pk", None):
        return ""
    name = getattr(user, "display_name", "") or user.get_username()
    return f"{name} ({user.get_username()})"[:255]
