"""Authentication backend for municipal users (eHerkenning and the development login)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from .identity import MunicipalIdentity
from .models import Municipality, User
from .session import LoginGrant


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
        # Read by the audit trail's user_logged_in receiver: how and for whom this login was.
        user.login_audit_details = {  # type: ignore[attr-defined]
            "method": identity.method,
            "organisation": identity.organisation_name,
            "intermediary": identity.intermediary,
            "gemeenten": [m.code for m in municipalities],
            **identity.extra,
        }
        # The login method decides, on every login, which gemeenten this login may act
        # for. That is this login's own: log_in_municipal_user puts it in the new session,
        # so another session of the same person keeps its own gemeenten.
        user.login_grant = LoginGrant(  # type: ignore[attr-defined]
            municipality_ids=tuple(m.pk for m in municipalities),
            organisation=identity.organisation_name,
            intermediary=identity.intermediary,
        )
        # The person is linked to every gemeente a login was for; IB can undo a link in
        # the admin, which ends that gemeente in all of the person's sessions.
        user.municipalities.add(*municipalities)
        return user

    def get_user(self, user_id: int) -> User | None:
        try:
            user = User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None
