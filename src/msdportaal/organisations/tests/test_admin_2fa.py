"""IB's admin demands a second factor (maykin-2fa / TOTP) after the password."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.organisations.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "een-lang-beheerwachtwoord"


@pytest.fixture
def ib_admin() -> User:
    return User.objects.create_superuser("ib-beheerder", "beheer@ib.nl", PASSWORD)


def password_step(client: Client):
    return client.post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "auth",
            "auth-username": "ib-beheerder",
            "auth-password": PASSWORD,
        },
    )


def test_password_alone_does_not_open_the_admin(client: Client, ib_admin: User):
    response = password_step(client)
    # Without a device the admin sends the user to set up TOTP; the index stays closed.
    assert client.get("/beheer/").status_code == 302
    assert client.get("/beheer/organisations/municipality/").status_code == 302
    assert response.status_code in (200, 302)


def test_password_plus_totp_opens_the_admin(client: Client, ib_admin: User):
    device = TOTPDevice.objects.create(user=ib_admin, name="default", confirmed=True)
    response = password_step(client)
    assert response.status_code == 200
    assert "token" in response.content.decode().lower()
    assert client.get("/beheer/").status_code == 302
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "token",
            "token-otp_token": f"{token:06d}",
        },
    )
    assert response.status_code == 302
    index = client.get("/beheer/")
    assert index.status_code == 200
    assert "Gemeenten" in index.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN, user=ib_admin).exists()


def test_admin_changes_are_audited(client: Client, ib_admin: User, municipality_a):
    device = TOTPDevice.objects.create(user=ib_admin, name="default", confirmed=True)
    password_step(client)
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client.post(
        "/beheer/login/",
        {"admin_login_view-current_step": "token", "token-otp_token": f"{token:06d}"},
    )
    response = client.post(
        f"/beheer/organisations/municipality/{municipality_a.pk}/change/",
        {
            "name": "Amsterdam",
            "province": "Noord-Holland",
            "kvk_number": "34366966",
            "rsin": "",
            "oin": "",
            "inactive_from": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    municipality_a.refresh_from_db()
    assert municipality_a.kvk_number == "34366966"
    entry = AuditEntry.objects.get(action=AuditAction.ADMIN_CHANGE)
    assert entry.user == ib_admin
    assert "Amsterdam" in entry.message
