"""Shared fixtures: gemeenten and users, a real SMTP server, and a real browser with axe."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import privates.test  # noqa: F401 - its receiver resets the lazy privates storage with STORAGES
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.test import Client
from django.utils import timezone

from msdportaal.organisations.models import Municipality, User

MUNICIPAL_BACKEND = "msdportaal.organisations.backends.MunicipalIdentityBackend"


def _deselect_postgresql_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql`` exercise PostgreSQL itself (a restart that drops every
    connection has no SQLite counterpart). They belong to the run on PostgreSQL only: on
    any other database they are deselected, not skipped (``-ra`` shows no skip for them)."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgresql")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]


# --- tests that need the whole production stack ---------------------------------------


def cluster_services_missing() -> list[str]:
    """What the tests marked ``cluster`` need and this run does not have: they start
    several processes that share one PostgreSQL database, Redis and an S3 bucket."""
    missing = []
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        missing.append("PostgreSQL (DATABASE_URL=postgres://…)")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://")):
        missing.append("Redis (CELERY_BROKER_URL=redis://…)")
    if os.environ.get("MSD_TEST_S3", "").lower() not in {"1", "true", "yes", "on"}:
        missing.append("S3 (MSD_TEST_S3=1)")
    return missing


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Tests marked ``cluster`` run where PostgreSQL, Redis and S3 are (CI's third run);
    elsewhere they are deselected, and the summary says why. Asking for them with
    ``-m cluster`` without those services is an error, not an empty run."""
    _deselect_postgresql_tests(config, items)
    missing = cluster_services_missing()
    cluster = [item for item in items if item.get_closest_marker("cluster")]
    if not missing or not cluster:
        return
    expression = config.option.markexpr or ""
    if "cluster" in expression and "not cluster" not in expression:
        raise pytest.UsageError(f"-m cluster needs {', '.join(missing)}")
    config.hook.pytest_deselected(items=cluster)
    items[:] = [item for item in items if not item.get_closest_marker("cluster")]
    config.stash[_CLUSTER_DESELECTED] = (len(cluster), missing)


_CLUSTER_DESELECTED = pytest.StashKey[tuple[int, list[str]]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    deselected = config.stash.get(_CLUSTER_DESELECTED, None)
    if deselected:
        count, missing = deselected
        terminalreporter.write_line(
            f"{count} cluster test(s) not run here: they need {', '.join(missing)}; "
            "the third run of .ci/run has them."
        )


#: The day the suite lives on: current period 2026HJ01, previous 2025HJ02 (DESIGN.md §3.4).
TODAY = "2026-11-29T10:00:00+01:00"


@pytest.fixture(autouse=True)
def fixed_today() -> Iterator[time_machine.Traveller]:
    """Calendar rules depend on the date; the clock still ticks so timeouts behave."""
    with time_machine.travel(TODAY, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any, request: Any, monkeypatch: Any) -> Iterator[Any]:
    """Each test stores files in its own media folder, so "nothing stored" can be checked.

    With MSD_TEST_S3=1 the "folder" is a key prefix of its own in the test bucket (also
    for worker subprocesses, through MSD_S3_LOCATION), removed after the test.
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    if not s3_suite():
        yield settings.MEDIA_ROOT
        return
    import uuid

    request.getfixturevalue("s3_server")
    location = f"tests/{uuid.uuid4().hex}"
    default, private = settings.STORAGES["default"], settings.STORAGES["privates"]
    private_inner = private["OPTIONS"]["backend"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "location": location}},
        # The admin's certificates (encrypted, core/private_storage.py) under the same prefix.
        "privates": {
            **private,
            "OPTIONS": {
                **private["OPTIONS"],
                "backend": {
                    **private_inner,
                    "OPTIONS": {**private_inner["OPTIONS"], "location": f"{location}/private"},
                },
            },
        },
    }
    monkeypatch.setenv("MSD_S3_LOCATION", location)
    from django.core.files.storage import storages

    storage = storages.create_storage(settings.STORAGES["default"])  # the test may change it
    yield settings.MEDIA_ROOT
    storage.bucket.objects.filter(Prefix=f"{location}/").delete()


def stored_files(root: Any) -> list[str]:
    """The files under *root*; for MEDIA_ROOT, what the default storage holds (S3 too)."""
    from pathlib import Path

    from django.conf import settings
    from django.core.files.storage import default_storage

    from msdportaal.core.storage import is_s3

    if Path(root) == Path(settings.MEDIA_ROOT) and is_s3(default_storage):
        prefix = f"{default_storage.location}/" if default_storage.location else ""
        # The admin's certificates (the privates storage) live under private/ in the
        # same bucket; they are not the default storage's.
        return sorted(
            o.key
            for o in default_storage.bucket.objects.filter(Prefix=prefix)
            if not o.key.startswith(f"{prefix}private/")
        )
    return sorted(str(p) for p in Path(root).rglob("*") if p.is_file())


# --- S3-compatible object storage: an S3 API server (moto) on 127.0.0.1 ----------------


def s3_suite() -> bool:
    """Whether the whole suite runs with S3 storage (MSD_TEST_S3=1, test_settings.py)."""
    from django.conf import settings

    return bool(getattr(settings, "MSD_S3_BUCKET", ""))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of an S3 API server: moto in server mode, in a thread of this
    process, on 127.0.0.1. With MSD_TEST_S3=1 it listens where the settings point (or
    the settings point at a server of the developer's own) and the suite's bucket exists.
    """
    import logging
    from urllib.parse import urlsplit

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _reuse_boto3_sessions()
    server = None
    if s3_suite():
        endpoint = os.environ["MSD_S3_ENDPOINT_URL"]
        if os.environ.get("MSD_TEST_S3_START_SERVER"):
            server = ThreadedMotoServer(
                ip_address="127.0.0.1", port=urlsplit(endpoint).port, verbose=False
            )
    else:
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    if server is not None:
        server.start()
    if s3_suite():
        from django.conf import settings
        from django.core.files.storage import storages

        bucket = storages.create_storage(settings.STORAGES["default"]).bucket
        if bucket.creation_date is None:
            bucket.create(
                CreateBucketConfiguration={
                    "LocationConstraint": bucket.meta.client.meta.region_name
                }
            )
    yield endpoint
    if server is not None:
        server.stop()


def _reuse_boto3_sessions() -> None:
    """Tests change STORAGES all the time, and every new S3Storage starts a boto3 session of
    its own (0.1-0.5 s: it loads the service models). One session per thread, reused."""
    import boto3
    from storages.backends.s3 import S3Storage

    local = threading.local()

    def create_session(storage: Any) -> Any:
        sessions = local.__dict__.setdefault("sessions", {})
        key = (storage.access_key, storage.secret_key, storage.security_token)
        if key not in sessions:
            sessions[key] = boto3.Session(
                aws_access_key_id=storage.access_key,
                aws_secret_access_key=storage.secret_key,
                aws_session_token=storage.security_token,
            )
        return sessions[key]

    S3Storage._create_session = create_session  # type: ignore[method-assign]


#: Credentials for the S3 API server in the tests (moto accepts any).
S3_TEST_KEY = {
    "access_key_id": os.environ.get("MSD_S3_ACCESS_KEY_ID", "testing"),
    "secret_access_key": os.environ.get("MSD_S3_SECRET_ACCESS_KEY", "testing"),
}


@dataclass
class S3Bucket:
    """A bucket of a test's own, set as the default storage."""

    name: str
    client: Any  # a boto3 S3 client

    def sha256(self, name: str) -> str:
        """SHA-256 of a stored file, read back through the S3 API."""
        import hashlib

        from django.core.files.storage import default_storage

        digest = hashlib.sha256()
        body = self.client.get_object(Bucket=self.name, Key=default_storage._normalize_name(name))
        for chunk in body["Body"].iter_chunks(256 * 1024):
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, name: str) -> dict[str, Any]:
        from django.core.files.storage import default_storage

        return self.client.head_object(Bucket=self.name, Key=default_storage._normalize_name(name))


@pytest.fixture
def s3_bucket(s3_server: str, settings: Any) -> S3Bucket:
    """The default storage becomes S3 (the production configuration, ``conf/s3.py``) in a
    new private bucket on the S3 API server, whatever MSD_TEST_S3 says."""
    import uuid

    import boto3

    from msdportaal.conf.s3 import s3_storage

    name = f"msd-{uuid.uuid4().hex[:24]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="eu-west-1",
        aws_access_key_id=S3_TEST_KEY["access_key_id"],
        aws_secret_access_key=S3_TEST_KEY["secret_access_key"],
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage(
            bucket=name,
            endpoint_url=s3_server,
            sse="AES256",
            **S3_TEST_KEY,
        ),
    }
    return S3Bucket(name=name, client=client)


#: The Fernet key of the tests' encrypted privates storage (test_settings.py uses it too).
PRIVATE_TEST_KEY = "PvSrKqCS9YOQiMRvGGqEEmeJvvbMIeC0S6-jqIKV7qM="


@pytest.fixture
def private_s3(s3_server: str, s3_bucket: S3Bucket, settings: Any) -> S3Bucket:
    """The privates storage (the admin's certificates and keys) as with MSD_S3_BUCKET:
    encrypted (``core/private_storage.py``), in :func:`s3_bucket` under ``private/``."""
    from msdportaal.conf.s3 import s3_storage

    settings.STORAGES = {
        **settings.STORAGES,
        "privates": {
            "BACKEND": "msdportaal.core.private_storage.EncryptedPrivateStorage",
            "OPTIONS": {
                "keys": PRIVATE_TEST_KEY,
                "backend": s3_storage(
                    bucket=s3_bucket.name,
                    location="private",
                    endpoint_url=s3_server,
                    sse="AES256",
                    **S3_TEST_KEY,
                ),
            },
        },
    }
    return s3_bucket


# --- gemeenten and users -------------------------------------------------------------


@pytest.fixture
def municipality_a(db: None) -> Municipality:
    return Municipality.objects.get(code="0363")  # Amsterdam


@pytest.fixture
def municipality_b(db: None) -> Municipality:
    return Municipality.objects.get(code="0344")  # Utrecht


def make_municipal_user(*municipalities: Municipality, username: str = "medewerker") -> User:
    user = User.objects.create(
        username=username,
        first_name="Fatima",
        last_name="de Vries",
        email=f"{username}@example.org",
        phone="020 123 45 67",
        identity_pseudonym=f"test-{username}",
        profile_completed_at=timezone.now(),
    )
    user.municipalities.set(municipalities)
    return user


@pytest.fixture
def user_a(municipality_a: Municipality) -> User:
    return make_municipal_user(municipality_a, username="medewerker-a")


@pytest.fixture
def user_b(municipality_b: Municipality) -> User:
    return make_municipal_user(municipality_b, username="medewerker-b")


@pytest.fixture
def client_a(client: Client, user_a: User) -> Client:
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    return client


# --- e-mail through a real SMTP server -------------------------------------------------


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in (m["To"] or "")]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        # An address that does not exist, refused the way a real mail server refuses it.
        if address.startswith("bestaatniet@"):
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.mailbox.lock:
            self.mailbox.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture(autouse=True)
def mailbox(smtp_server: tuple[Controller, Mailbox], settings: Any) -> Mailbox:
    """Every test sends its e-mail through a real SMTP server on 127.0.0.1."""
    controller, box = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = controller.hostname
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    box.clear()
    return box


# --- a real browser, with axe on every page ------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class AccessiblePage:
    """A Playwright page that insists every page it shows passes axe.

    Tests call :meth:`axe` after each navigation; at the end of the test, any page that
    was loaded but not checked fails the test, so no page slips through unchecked.
    Anything the Content-Security-Policy blocked (Chromium says so on the console) fails
    the test too: the strict policy must not break a page. Only what the page itself
    does counts: a message from a script the test injects (``url`` empty) is axe's own,
    whose CSS loader re-reads an ``@import``ed stylesheet (the admin's forms.css) as an
    inline ``<style>`` in a scratch document, and is ignored.
    """

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.loaded: list[str] = []
        self.checked: set[str] = set()
        self.csp_violations: list[str] = []
        page.on("load", lambda p: self.loaded.append(p.url))
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text and message.location.get("url"):
            self.csp_violations.append(f"{message.location['url']}: {message.text}")

    def goto(self, path: str) -> Any:
        self.page.goto(self.base_url + path)
        self.axe()
        return self.page

    def axe(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state("load")
        results = Axe().run(self.page)
        assert results.violations_count == 0, (
            f"axe: {results.violations_count} violation(s) on {self.page.url}:\n"
            + results.generate_report()
        )
        self.checked.add(self.page.url)

    def unchecked_pages(self) -> list[str]:
        return [url for url in self.loaded if url not in self.checked]


def restore_reference_data() -> None:
    """Transactional tests flush every table, including what the data migrations seeded
    (the gemeenten, the sets); put it back the way the migrations do."""
    from importlib import import_module

    from django.apps import apps

    for module, loader in (
        ("msdportaal.organisations.migrations.0002_load_gemeenten", "load"),
        ("msdportaal.periods.migrations.0002_default_data_sets", "create"),
        ("msdportaal.reports.migrations.0002_default_kinds", "create"),
    ):
        getattr(import_module(module), loader)(apps, None)


@contextmanager
def accessible_page(
    browser: Any, base_url: str, *, locale: str = "nl-NL", **context_options: Any
) -> Iterator[AccessiblePage]:
    """A page in a browser context of its own (its own cookies: another browser), checked
    like every page: axe on each page visited, nothing blocked by the CSP."""
    context = browser.new_context(
        locale=locale, viewport={"width": 1280, "height": 900}, **context_options
    )
    page = AccessiblePage(context.new_page(), base_url)
    page.page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not page.unchecked_pages(), (
        f"pages visited without an axe check: {page.unchecked_pages()}"
    )
    assert not page.csp_violations, "blocked by the Content-Security-Policy:\n" + "\n".join(
        page.csp_violations
    )


@pytest.fixture
def browser_page(
    browser: Any, live_server: Any, transactional_db: None
) -> Iterator[AccessiblePage]:
    restore_reference_data()
    with accessible_page(browser, live_server.url) as page:
        yield page


def browser_login(browser_page: AccessiblePage, user: User) -> AccessiblePage:
    """Gives the browser a fresh session for ``user`` (the login itself is tested through
    the UI elsewhere); call again after travelling in time."""
    from django.conf import settings

    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    browser_page.page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": browser_page.base_url,
            }
        ]
    )
    return browser_page


@pytest.fixture
def logged_in_page(browser_page: AccessiblePage, user_a: User) -> AccessiblePage:
    """A browser logged in as a user of gemeente A."""
    return browser_login(browser_page, user_a)


# --- the RINIS/CBS simulator over real HTTPS with client certificates ------------------


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: Any) -> Any:
    from rinis_simulator.devcerts import ensure_dev_certs

    return ensure_dev_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def simulator(dev_certs: Any, tmp_path: Any, settings: Any) -> Iterator[Any]:
    """The simulator on ephemeral ports; the portal is pointed at it."""
    from rinis_simulator.config import SimulatorConfig
    from rinis_simulator.server import Simulator

    config = SimulatorConfig(
        port=0,
        control_port=0,
        certs_dir=dev_certs.directory,
        storage=tmp_path / "simulator",
        gb_client_cert=dev_certs.rinis_client.cert,
        gb_client_key=dev_certs.rinis_client.key,
        gb_ca=dev_certs.ca_cert,
        # Never regenerate here: under time travel the certificates would look "not yet
        # valid" and be replaced under the feet of the TLS front that already loaded them.
        generate_certs=False,
        cert=dev_certs.simulator.cert,
        key=dev_certs.simulator.key,
        ca=dev_certs.ca_cert,
    )
    with Simulator(config) as running:
        settings.MSD_RINIS_URL = running.soap_url
        settings.MSD_RINIS_CLIENT_CERT = str(dev_certs.portal_client.cert)
        settings.MSD_RINIS_CLIENT_KEY = str(dev_certs.portal_client.key)
        settings.MSD_RINIS_CA_BUNDLE = str(dev_certs.ca_cert)
        settings.MSD_RINIS_CONNECT_TIMEOUT = 2.0
        settings.MSD_RINIS_READ_TIMEOUT = 5.0
        yield running


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy (an Event.wait between polls, not a sleep loop
    that hides a race: the deadline fails the test)."""
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        pause.wait(0.05)


@pytest.fixture
def rinis_facing(
    live_server: Any, transactional_db: None, dev_certs: Any, settings: Any
) -> Iterator[str]:
    """The portal as RINIS reaches it: TLS with client certificates at a proxy (the
    development stand-in for nginx) in front of the live server."""
    from msdportaal.transport.models import TrustedClient
    from rinis_simulator.devcerts import RINIS_OIN
    from tls_front.proxy import start_in_thread

    restore_reference_data()
    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN)
    upstream = live_server.url.removeprefix("http://")
    handle = start_in_thread(
        "127.0.0.1",
        0,
        upstream,
        dev_certs.portal_server.cert,
        dev_certs.portal_server.key,
        dev_certs.ca_cert,
        proxy_secret=settings.MSD_PROXY_SECRET,
    )
    settings.MSD_RINIS_FACING_URL = handle.url
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.fixture
def rinis_headers(dev_certs: Any, settings: Any) -> dict[str, str]:
    """What the TLS front adds for RINIS's verified certificate, with RINIS registered."""
    from pathlib import Path
    from urllib.parse import quote

    from msdportaal.transport.models import TrustedClient
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.get_or_create(oin=RINIS_OIN, defaults={"name": "RINIS"})
    pem = Path(dev_certs.rinis_client.cert).read_text()
    return {
        "HTTP_X_SSL_CLIENT_CERT": quote(pem, safe=""),
        "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
        "HTTP_X_MSD_PROXY_SECRET": settings.MSD_PROXY_SECRET,
    }
