"""Logging in and out, choosing a gemeente, the profile, and the session."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.organisations.models import Municipality, User

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[3]


def dev_login(client: Client, code: str = "0363", extra: str = "", **extra_data: str):
    municipality = Municipality.objects.get(code=code)
    return client.post(
        reverse("organisations:dev_login"),
        {
            "municipality": municipality.pk,
            "name": "Fatima de Vries",
            "email": "fatima@example.org",
            "extra_codes": extra,
            **extra_data,
        },
    )


def test_dev_login_logs_in_for_the_chosen_gemeente_and_asks_for_a_profile_first(client: Client):
    response = dev_login(client)
    assert response.status_code == 302
    user = User.objects.get(email="fatima@example.org")
    assert list(user.municipalities.values_list("code", flat=True)) == ["0363"]
    # First visit: eHerkenning knows no name or phone, so the profile comes first.
    response = client.get(reverse("overview:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("organisations:profile"))
    response = client.post(
        response["Location"],
        {
            "first_name": "Fatima",
            "last_name": "de Vries",
            "email": "fatima@example.org",
            "phone": "020 123 45 67",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("overview:index")
    assert "Overzicht Amsterdam" in response.content.decode()
    assert "GM0363" in response.content.decode()


def test_profile_refuses_a_bad_phone_number_in_dutch(client_a: Client, user_a: User):
    response = client_a.post(
        reverse("organisations:profile"),
        {
            "first_name": "F",
            "last_name": "V",
            "email": "f@example.org",
            "phone": "bel me",
        },
    )
    assert response.status_code == 200
    assert "Vul een geldig telefoonnummer in" in response.content.decode()
    user_a.refresh_from_db()
    assert user_a.phone == "020 123 45 67"


def test_dev_login_with_an_unknown_extra_code_is_refused(client: Client):
    response = dev_login(client, extra="9999")
    assert response.status_code == 200
    assert "Onbekende gemeentecode(s): 9999." in response.content.decode()
    assert not User.objects.filter(email="fatima@example.org").exists()


def test_intermediary_chooses_the_gemeente_and_can_switch(client: Client):
    dev_login(client, extra="0344, GM0599")
    user = User.objects.get(email="fatima@example.org")
    user.profile_completed_at = timezone.now()
    user.save()
    response = client.get(reverse("overview:index"))
    assert response["Location"].startswith(reverse("organisations:choose"))
    utrecht = Municipality.objects.get(code="0344")
    response = client.post(
        reverse("organisations:choose"), {"municipality": utrecht.pk}, follow=True
    )
    page = response.content.decode()
    assert "U handelt nu namens Utrecht." in page
    assert "Wissel van gemeente" in page
    assert "GM0344" in page


def test_choosing_a_gemeente_one_may_not_act_for_is_refused(
    client_a: Client, user_a: User, municipality_b
):
    response = client_a.post(reverse("organisations:choose"), {"municipality": municipality_b.pk})
    assert response.status_code == 200
    assert (
        "Selecteer een geldige keuze" in response.content.decode()
        or "U mag niet handelen namens deze gemeente." in response.content.decode()
    )
    response = client_a.get(reverse("overview:index"))
    assert "Overzicht Amsterdam" in response.content.decode()


def test_login_and_logout_leave_audit_entries(client: Client):
    dev_login(client)
    login_entry = AuditEntry.objects.get(action=AuditAction.LOGIN)
    assert login_entry.user.email == "fatima@example.org"
    assert login_entry.ip_address == "127.0.0.1"
    client.post(reverse("organisations:logout"))
    assert AuditEntry.objects.filter(action=AuditAction.LOGOUT, user=login_entry.user).exists()
    assert client.get(reverse("overview:index"))["Location"].startswith(
        reverse("organisations:login")
    )


def test_logout_requires_post_with_csrf_token(user_a: User):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    assert client.get(reverse("organisations:logout")).status_code == 405
    assert client.post(reverse("organisations:logout")).status_code == 403
    assert client.get(reverse("overview:index")).status_code == 200


def test_session_ends_after_inactivity(client_a: Client, settings):
    # 15 minutes idle, plus the at most one minute between two writes of the row.
    assert settings.SESSION_COOKIE_AGE == 15 * 60 + settings.MSD_SESSION_REFRESH_SECONDS
    assert client_a.get(reverse("overview:index")).status_code == 200
    # Sixteen minutes of nothing: the stored session has expired.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(minutes=1))
    response = client_a.get(reverse("overview:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("organisations:login"))


def test_every_request_moves_the_inactivity_deadline(client_a: Client):
    client_a.get(reverse("overview:index"))
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(minutes=1))
    client_a.post(reverse("core:keepalive"))
    session = Session.objects.get()
    assert session.expire_date > timezone.now() + datetime.timedelta(minutes=14)


def test_dev_login_is_a_404_when_disabled(client: Client, settings):
    settings.DEV_LOGIN_ENABLED = False
    assert client.get(reverse("organisations:dev_login")).status_code == 404
    assert dev_login(client).status_code == 404
    assert "ontwikkel-login" not in client.get(reverse("organisations:login")).content.decode()


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MSD_", "DJANGO_"))}
    clean.update(
        {
            "DJANGO_SECRET_KEY": "x",
            "DJANGO_ALLOWED_HOSTS": "portaal.example.nl",
            "PYTHONPATH": str(SRC),
            "MSD_VAR_DIR": os.environ["MSD_VAR_DIR"],
            **env,
        }
    )
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEV_LOGIN_ENABLED)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "msdportaal.conf.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dev_login_cannot_be_enabled_with_production_settings():
    refused = _load_settings(MSD_DEV_LOGIN_ENABLED="true")  # MSD_ENVIRONMENT defaults to production
    assert refused.returncode != 0
    assert "MSD_DEV_LOGIN_ENABLED cannot be used with MSD_ENVIRONMENT=production" in refused.stderr
    refused = _load_settings(MSD_DEV_LOGIN_ENABLED="true", MSD_ENVIRONMENT="acceptance")
    assert refused.returncode != 0
    production = _load_settings()
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == "False"


def test_production_settings_are_safe_by_default():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MSD_", "DJANGO_"))}
    base = {
        **clean,
        "PYTHONPATH": str(SRC),
        "DJANGO_SETTINGS_MODULE": "msdportaal.conf.settings",
        "MSD_VAR_DIR": os.environ["MSD_VAR_DIR"],
    }
    ok = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**base, "DJANGO_SECRET_KEY": "x", "DJANGO_ALLOWED_HOSTS": "a.nl"},
    )
    assert ok.stdout.split() == ["False", "True", "True", "True"], ok.stderr
    no_hosts = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**base, "DJANGO_SECRET_KEY": "x"},
    )
    assert "DJANGO_ALLOWED_HOSTS must be set" in no_hosts.stderr
    no_key = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**base, "DJANGO_ALLOWED_HOSTS": "a.nl"},
    )
    assert "DJANGO_SECRET_KEY must be set" in no_key.stderr


def test_ib_staff_cannot_use_municipal_pages(client: Client, municipality_a):
    staff = make_municipal_user(municipality_a, username="ib")
    staff.is_staff = True
    staff.save()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("overview:index")).status_code == 403
