"""Hardening: security headers, login lockout, the admin's own host, session rotation,
no pickle anywhere, and uploaded files never served as static files."""

from __future__ import annotations

import datetime
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.contrib.sessions.serializers import JSONSerializer
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.organisations.identity import MunicipalIdentity
from msdportaal.organisations.models import Municipality, User

pytestmark = pytest.mark.django_db

PASSWORD = "een-lang-beheerwachtwoord"
SRC = Path(__file__).resolve().parents[3]

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


@pytest.fixture
def ib_admin() -> User:
    return User.objects.create_superuser("ib-beheerder", "beheer@ib.nl", PASSWORD)


def password_step(client: Client, password: str, username: str = "ib-beheerder", **extra):
    return client.post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "auth",
            "auth-username": username,
            "auth-password": password,
        },
        **extra,
    )


def token_step(client: Client, device: TOTPDevice):
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return client.post(
        "/beheer/login/",
        {"admin_login_view-current_step": "token", "token-otp_token": f"{token:06d}"},
    )


def dev_login(client: Client, code: str = "0363"):
    return client.post(
        reverse("organisations:dev_login"),
        {
            "municipality": Municipality.objects.get(code=code).pk,
            "name": "Fatima de Vries",
            "email": "fatima@example.org",
            "extra_codes": "",
        },
    )


# --- 1. security headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/inloggen/",  # a portal page
        "/beheer/login/",  # the admin's login (maykin-2fa)
        "/overzicht/",  # a redirect to the login
        "/bestaat-niet/",  # a 404
        "/static/css/portal.css",  # a static file (WhiteNoise)
    ],
)
def test_every_response_carries_the_security_headers(client: Client, path: str):
    response = client.get(path)
    assert response.status_code in (200, 302, 404)
    assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    if path != "/static/css/portal.css":  # WhiteNoise answers before the clickjacking middleware
        assert response["X-Frame-Options"] == "DENY"


def _cache_directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


def test_a_municipal_page_and_a_download_are_never_cached(client_a: Client, municipality_a):
    from msdportaal.consent.tests.factories import CURRENT, report

    page = client_a.get("/overzicht/")
    assert page.status_code == 200
    assert {"private", "no-store"} <= _cache_directives(page)
    download = client_a.get(
        reverse("reports:download", kwargs={"pk": report(municipality_a, CURRENT).pk})
    )
    assert download.status_code == 200
    assert {"private", "no-store"} <= _cache_directives(download)
    assert "public" not in _cache_directives(download)


def test_static_files_keep_their_cache_headers_for_a_logged_in_user(client_a: Client):
    response = client_a.get("/static/css/portal.css")
    assert response.status_code == 200
    assert "no-store" not in _cache_directives(response)
    assert "private" not in _cache_directives(response)


def test_anonymous_pages_are_not_marked_private(client: Client):
    assert "private" not in _cache_directives(client.get("/inloggen/"))


def test_municipal_pages_and_the_admin_index_carry_them_too(client_a: Client, client: Client):
    response = client_a.get("/overzicht/")
    assert response.status_code == 200
    assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP
    assert response["X-Frame-Options"] == "DENY"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"


def test_hsts_over_https(client: Client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000  # the production default (MSD_HSTS_SECONDS)
    response = client.get("/inloggen/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    # Never over plain HTTP (a browser ignores it there, and it says nothing).
    assert "Strict-Transport-Security" not in client.get("/inloggen/")


# --- 2. login lockout (django-axes) ------------------------------------------------------


def test_five_wrong_passwords_lock_the_admin_login_even_for_the_right_one(
    client: Client, ib_admin: User, fixed_today
):
    device = TOTPDevice.objects.create(user=ib_admin, name="default", confirmed=True)
    for attempt in range(1, 5):
        response = password_step(client, "verkeerd-wachtwoord")
        assert response.status_code == 200, attempt  # the form again, with its error
    response = password_step(client, "verkeerd-wachtwoord")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Te veel mislukte inlogpogingen" in page
    assert "Probeer het over 30 minuten opnieuw." in page

    # The right password does not help now, and the second factor is never asked.
    response = password_step(client, PASSWORD)
    assert response.status_code == 429
    assert "token-otp_token" not in response.content.decode()
    assert client.get("/beheer/").status_code == 302

    # From another address, the same account is locked as well (MSD_LOGIN_LOCKOUT_BY).
    elsewhere = Client(REMOTE_ADDR="192.0.2.10")
    assert password_step(elsewhere, PASSWORD).status_code == 429

    failed = AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert failed.count() == 7
    assert {e.details["username"] for e in failed} == {"ib-beheerder"}
    assert {e.ip_address for e in failed} == {"127.0.0.1", "192.0.2.10"}
    locked = AuditEntry.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT)
    assert locked.count() == 3  # the fifth wrong one, and both attempts after it
    assert not AuditEntry.objects.filter(action=AuditAction.LOGIN).exists()

    # After the cool-off the right password and the second factor open the admin again.
    fixed_today.shift(datetime.timedelta(minutes=31))
    response = password_step(client, PASSWORD)
    assert response.status_code == 200
    assert "token-otp_token" in response.content.decode()
    assert token_step(client, device).status_code == 302
    assert client.get("/beheer/").status_code == 200


def test_the_failure_limit_comes_from_the_settings(client: Client, ib_admin: User, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert password_step(client, "fout").status_code == 200
    assert password_step(client, "fout").status_code == 429


def test_a_successful_login_resets_the_count(client: Client, ib_admin: User):
    for _attempt in range(4):
        password_step(client, "fout")
    response = password_step(client, PASSWORD)  # accepted: on to set up a second factor
    assert response.status_code == 302
    assert response["Location"] == "/beheer/mfa/setup/"
    other = Client()
    for _attempt in range(4):
        assert password_step(other, "fout").status_code == 200


def test_municipal_logins_are_never_locked_out(client: Client, ib_admin: User, rf):
    """A lockout on the admin from this address leaves the development login (and so
    eHerkenning, which uses the same backend) alone, and refused identity logins do not
    count towards any lockout."""
    for _attempt in range(5):
        password_step(client, "fout")
    assert password_step(client, PASSWORD).status_code == 429  # locked, by name and address

    unknown = MunicipalIdentity(
        pseudonym="onbekend",
        organisation_name="Geen gemeente",
        municipality_codes=("9999",),
        method="eherkenning",
    )
    for _attempt in range(10):
        request = rf.post("/", REMOTE_ADDR="127.0.0.1")
        assert authenticate(request, identity=unknown) is None

    municipal = Client()  # same address, 127.0.0.1
    response = dev_login(municipal)
    assert response.status_code == 302
    assert municipal.get(reverse("organisations:profile")).status_code == 200
    login = AuditEntry.objects.get(action=AuditAction.LOGIN)
    assert login.details["backend"] == "msdportaal.organisations.backends.MunicipalIdentityBackend"

    from axes.models import AccessAttempt

    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["ib-beheerder"]


def test_a_municipal_login_does_not_reset_an_admins_failures(client: Client, ib_admin: User):
    for _attempt in range(4):
        assert password_step(client, "fout").status_code == 200
    assert dev_login(Client()).status_code == 302  # same address, a successful login
    assert password_step(client, "fout").status_code == 429


def test_lockout_settings_come_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.AXES_LOCKOUT_PARAMETERS, "
        "s.MSD_ADMIN_HOSTS)"
    )
    result = _settings_subprocess(
        code,
        MSD_LOGIN_FAILURE_LIMIT="3",
        MSD_LOGIN_LOCKOUT_MINUTES="0",
        MSD_LOGIN_LOCKOUT_BY="username_and_ip",
        MSD_ADMIN_HOSTS="beheer.msdportaal.nl",
        DJANGO_ALLOWED_HOSTS="portaal.msdportaal.nl,beheer.msdportaal.nl",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("3 None [['username', 'ip_address']] ['beheer.msdportaal.nl']")
    defaults = _settings_subprocess(code)
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.strip() == "5 0:30:00 ['username', 'ip_address'] []"


def test_an_admin_host_outside_allowed_hosts_is_refused_at_start():
    result = _settings_subprocess(
        "import django; django.setup()",
        MSD_ADMIN_HOSTS="beheer.elders.nl",
        DJANGO_ALLOWED_HOSTS="portaal.msdportaal.nl",
    )
    assert result.returncode != 0
    assert "MSD_ADMIN_HOSTS: 'beheer.elders.nl' is not in DJANGO_ALLOWED_HOSTS" in result.stderr


def _settings_subprocess(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MSD_", "DJANGO_"))}
    clean.update(
        {
            "DJANGO_SECRET_KEY": "x",
            "DJANGO_ALLOWED_HOSTS": "portaal.msdportaal.nl",
            "PYTHONPATH": str(SRC),
            "MSD_VAR_DIR": os.environ["MSD_VAR_DIR"],
            "DJANGO_SETTINGS_MODULE": "msdportaal.conf.settings",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- 3. the admin only on its own host ---------------------------------------------------


@pytest.fixture
def admin_host(settings):
    settings.ALLOWED_HOSTS = ["portaal.msdportaal.nl", "beheer.msdportaal.nl"]
    settings.MSD_ADMIN_HOSTS = ["beheer.msdportaal.nl"]


ADMIN_PATHS = ["/beheer/", "/beheer", "/beheer/login/", "/beheer/mfa/setup/", "/beheer/jsi18n/"]


@pytest.mark.usefixtures("admin_host")
@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_the_admin_is_a_404_on_the_portal_host(client: Client, path: str):
    response = client.get(path, HTTP_HOST="portaal.msdportaal.nl")
    assert response.status_code == 404
    # The same headers as everywhere, and nothing that tells an admin lives here.
    assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP
    assert "beheer" not in response.content.decode().lower()


@pytest.mark.usefixtures("admin_host")
def test_the_admin_works_on_its_own_host(client: Client, ib_admin: User):
    assert client.get("/beheer/login/", HTTP_HOST="beheer.msdportaal.nl").status_code == 200
    with_port = client.get("/beheer/login/", HTTP_HOST="beheer.msdportaal.nl:8443")
    assert with_port.status_code == 200
    response = client.get("/beheer/", HTTP_HOST="beheer.msdportaal.nl")
    assert response.status_code == 302
    assert response["Location"].startswith("/beheer/login/")


@pytest.mark.usefixtures("admin_host")
def test_a_password_posted_on_the_portal_host_is_never_checked(client: Client, ib_admin: User):
    response = password_step(client, "fout", HTTP_HOST="portaal.msdportaal.nl")
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).exists()


@pytest.mark.usefixtures("admin_host")
def test_the_portal_itself_is_unaffected(client: Client):
    assert client.get("/inloggen/", HTTP_HOST="portaal.msdportaal.nl").status_code == 200


def test_without_admin_hosts_every_allowed_host_has_the_admin(client: Client, settings):
    settings.ALLOWED_HOSTS = ["portaal.msdportaal.nl", "beheer.msdportaal.nl"]
    settings.MSD_ADMIN_HOSTS = []
    assert client.get("/beheer/login/", HTTP_HOST="portaal.msdportaal.nl").status_code == 200


def test_subdomain_entries_and_a_moved_admin_path(client: Client, settings):
    settings.ALLOWED_HOSTS = [".msdportaal.nl"]
    settings.MSD_ADMIN_HOSTS = [".beheer.msdportaal.nl"]
    assert client.get("/beheer/login/", HTTP_HOST="ib.beheer.msdportaal.nl").status_code == 200
    assert client.get("/beheer/login/", HTTP_HOST="www.msdportaal.nl").status_code == 404
    settings.MSD_ADMIN_PATH = "ib-beheer"  # the middleware follows MSD_ADMIN_PATH
    assert client.get("/ib-beheer/", HTTP_HOST="www.msdportaal.nl").status_code == 404


# --- 4. session rotation, JSON only, uploads never served ---------------------------------


def _session_key(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def _anonymous_session(client: Client) -> str:
    session = client.session
    session["voor_het_inloggen"] = True
    session.save()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def test_the_dev_login_gives_a_new_session_key(client: Client):
    before = _anonymous_session(client)
    assert dev_login(client).status_code == 302
    after = _session_key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.get(reverse("organisations:profile")).status_code == 200


def test_the_admin_login_gives_a_new_session_key(client: Client, ib_admin: User):
    device = TOTPDevice.objects.create(user=ib_admin, name="default", confirmed=True)
    before = _anonymous_session(client)
    assert password_step(client, PASSWORD).status_code == 200
    between = _session_key(client)
    assert token_step(client, device).status_code == 302
    after = _session_key(client)
    assert after not in (before, between)
    assert not Session.objects.filter(session_key__in=[before, between]).exists()
    assert client.get("/beheer/").status_code == 200


def test_sessions_are_json(client_a: Client):
    assert django_settings.SESSION_SERIALIZER == (
        "django.contrib.sessions.serializers.JSONSerializer"
    )
    assert django_settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    client_a.get(reverse("overview:index"))
    stored = Session.objects.get(session_key=_session_key(client_a)).session_data
    data = signing.loads(
        stored, salt="django.contrib.sessions.SessionStore", serializer=JSONSerializer
    )
    assert data["_auth_user_backend"].endswith("MunicipalIdentityBackend")


def test_celery_speaks_json_only():
    from kombu.exceptions import ContentDisallowed
    from kombu.serialization import dumps, loads, prepare_accept_content

    from msdportaal.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.event_serializer == "json"
    # A pickled message on the broker is refused, not unpickled.
    accept = prepare_accept_content(app.conf.accept_content)
    payload = pickle.dumps({"task": "x"})
    with pytest.raises(ContentDisallowed):
        loads(payload, "application/x-python-serialize", "binary", accept=accept)
    content_type, encoding, body = dumps({"task": "x"}, serializer="json")
    assert loads(body, content_type, encoding, accept=accept) == {"task": "x"}


def test_caches_pickle_nothing_across_processes():
    """Django's shared cache backends pickle by default; only in-process caches are used
    (nothing pickled ever leaves the process), or a JSON serializer must be configured."""
    for alias, config in django_settings.CACHES.items():
        backend = config["BACKEND"]
        if backend in (
            "django.core.cache.backends.locmem.LocMemCache",
            "django.core.cache.backends.dummy.DummyCache",
        ):
            continue
        serializer = config.get("OPTIONS", {}).get("serializer", "")
        assert "json" in str(serializer).lower(), f"cache {alias!r} ({backend}) pickles"


def _all_patterns(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _all_patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_no_url_pattern_serves_media_or_private_files():
    from django.views.static import serve

    media_prefix = django_settings.MEDIA_URL.strip("/")
    private_prefix = django_settings.SENDFILE_URL.strip("/")
    for route, pattern in _all_patterns(get_resolver()):
        callback = getattr(pattern.callback, "__wrapped__", pattern.callback)
        assert callback is not serve, route
        assert not route.lstrip("^").startswith((media_prefix, private_prefix)), route


def test_media_is_not_under_a_served_folder():
    media = Path(django_settings.MEDIA_ROOT).resolve()
    served = [Path(django_settings.STATIC_ROOT).resolve()]
    served += [Path(d).resolve() for d in getattr(django_settings, "STATICFILES_DIRS", [])]
    for folder in served:
        assert not media.is_relative_to(folder), folder
        assert not folder.is_relative_to(media), folder


def test_a_stored_file_is_not_reachable_by_its_path(client_a: Client, client: Client):
    from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, csv_file
    from msdportaal.deliveries.tests.test_upload import upload_and_confirm

    content = csv_bytes(rows=7)
    (delivery,) = upload_and_confirm(
        client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    stored = delivery.stored_name
    report_name = default_storage.save("reports/test/rapport.pdf", ContentFile(b"%PDF-1.4 x"))
    for name in (stored, report_name):
        for path in (
            f"{django_settings.MEDIA_URL}{name}",
            f"/{name}",
            f"/static/{name}",
            f"/static/../{name}",
            f"{django_settings.SENDFILE_URL}{name}",
            f"/media/{name}",
        ):
            for who in (client, client_a):
                response = who.get(path)
                assert response.status_code == 404, (path, response.status_code)
                assert content not in response.content
    # On local disk: stored without any execute bit (FILE_UPLOAD_PERMISSIONS = 0o640). Object
    # storage has no file modes; that its objects are private is tested with the S3 tests.
    try:
        local_path = default_storage.path(stored)
    except NotImplementedError:
        return
    mode = os.stat(local_path).st_mode
    assert not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert not mode & stat.S_IROTH


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_logged_exceptions_carry_no_local_variables(log_format: str):
    """A traceback in the logs must not show the frames' locals: a password or a token
    in a local variable would end up in the log collector."""
    import sys as _sys

    from msdportaal.operations.logs import _renderer

    # Built at run time, so the source lines a traceback shows do not contain them.
    password, token = "-".join(["geheim", "wachtwoord"]), "-".join(["geheim", "token"])

    def log_in(password: str) -> None:
        secret_token = token  # noqa: F841
        raise ValueError("fout")

    try:
        log_in(password)
    except ValueError:
        exc_info = _sys.exc_info()
    event: Any = {"event": "mislukt", "exc_info": exc_info}
    for processor in _renderer(log_format):
        event = processor(None, "error", event)
    rendered = str(event)
    assert "log_in" in rendered  # the traceback is there
    assert password not in rendered
    assert token not in rendered
