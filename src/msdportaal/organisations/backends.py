"""Authentication backend for municipal users (eHerkenning and the development login)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from .identity import MunicipalIdentity
from .models import Municipality, User


class MunicipalIdentityBackend(BaseBackend):
    """Turns a verified :class:`MunicipalIdentity` into a user.

    It never checks credentials itself: the login method (SAML artifact resolution, or
    the development login that only exists outside production) has done that.
    """

    def authenticate(
        self, request: HttpRequest | None, identity: MunicipalIdentity | None = None, **kwargs: Any
    ) -> User | None:
        if identity is None:
            return None
        municipalities = list(
            Municipality.objects.active().filter(code__in=identity.municipality_codes)
        )
        if not municipalities:
            return None
        user, _created = User.objects.get_or_create(
            identity_pseudonym=identity.pseudonym,
            defaults={
                "username": f"{identity.method}:{identity.pseudonym}"[:150],
                "first_name": identity.first_name,
                "last_name": identity.last_name,
                "email": identity.email,
            },
        )
        if not user.is_active or user.is_staff:
            return None
        user.acting_organisation = identity.intermediary or identity.organisation_name
        user.save(update_fields=["acting_organisation"])
        # Read by the audit trail's user_logged_in receiver: how and for whom this login was.
        user.login_audit_details = {  # type: ignore[attr-defined]
            "method": identity.method,
            "organisation": identity.organisation_name,
            "intermediary": identity.intermediary,
            **identity.extra,
        }
        # The login method decides, on every login, which gemeenten this person may act for.
        user.municipalities.set(municipalities)
        return user

    def get_user(self, user_id: int) -> User | None:
        try:
            user = User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None
