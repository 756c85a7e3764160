"""An IB administrator who passed the second factor, for admin tests (as a test client,
or as a session for the browser)."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.organisations.models import User

PASSWORD = "een-lang-beheerwachtwoord"


def ib_administrator(username: str = "ib-beheerder") -> User:
    return User.objects.create_superuser(username, f"{username}@ib.nl", PASSWORD)


def ib_client(user: User, **client_kwargs: object) -> Client:
    """A client logged in as *user* with a confirmed TOTP device, the second factor
    verified (the login itself is tested in organisations/tests/test_admin_2fa.py)."""
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, name="default", defaults={"confirmed": True}
    )
    client = Client(**client_kwargs)  # type: ignore[arg-type]
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
