"""Access proven per URL (DESIGN.md §7): every URL pattern the application has — the
portal's, the admin's, the second factor's, RINIS's — requested by every kind of visitor.

The visitors: anonymous; a user of gemeente A; a user of gemeente B; an intermediary for
A and C acting for A; the same intermediary acting for C; an IB administrator who passed
the second factor. URLs with parameters get real objects of gemeente A (a delivery, an
upload batch, a CBS report, a consent form, a contact, a Grote Berichten message, an
agenda link).

RULES maps every URL name to who gets what. A URL without a rule fails
:func:`test_every_url_has_a_rule`, which lists the ones it found: adding a URL means
deciding here who may use it. Standard ModelAdmin URLs (changelist, add, change, …) are
matched by pattern; any custom admin view needs its own line.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.organisations.middleware import SESSION_KEY
from msdportaal.organisations.models import Municipality, User

# --- what a response may be -------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    statuses: frozenset[int]
    #: For redirects: where to (prefix), or where not to.
    to: str | None = None
    not_to: str | None = None
    label: str = ""

    def matches(self, response: Any) -> bool:
        if response.status_code not in self.statuses:
            return False
        location = response.get("Location", "")
        if self.to is not None and not location.startswith(self.to):
            return False
        return not (self.not_to is not None and location.startswith(self.not_to))

    def __str__(self) -> str:
        return self.label or "/".join(str(s) for s in sorted(self.statuses))


def expect(*statuses: int, to: str | None = None, not_to: str | None = None, label: str = ""):
    return Expect(frozenset(statuses), to, not_to, label)


ADMIN = f"/{django_settings.MSD_ADMIN_PATH}/"
OK = expect(200, label="200")
NO_CONTENT = expect(204, label="204")
TO_LOGIN = expect(302, to="/inloggen/", label="→ inloggen")
TO_ADMIN_LOGIN = expect(302, to=f"{ADMIN}login/", label="→ beheer-login")
TO_ADMIN_INDEX = expect(302, to=ADMIN, not_to=f"{ADMIN}login/", label="→ beheer")
TO_OVERVIEW = expect(302, to="/overzicht/", label="→ overzicht")
REDIRECT = expect(302, label="302")
NOT_FOUND = expect(404, label="404")
FORBIDDEN = expect(403, label="403")
UNAUTHORIZED = expect(401, label="401")
NOT_ALLOWED = expect(405, label="405")
#: An administrator inside the admin: the page, a redirect within the admin (a missing
#: object), a 403 (read-only models have no add/delete), a 404 — never the login again.
ADMIN_INSIDE = expect(200, 302, 403, 404, 405, not_to=f"{ADMIN}login/", label="beheer")

SUBJECTS = ("anonymous", "user_a", "user_b", "intermediary_for_a", "intermediary_for_c", "ib")
MUNICIPAL = ("user_a", "user_b", "intermediary_for_a", "intermediary_for_c")


@dataclass(frozen=True)
class Rule:
    what: str
    get: dict[str, Expect]
    post: dict[str, Expect] = field(default_factory=dict)
    #: Extra checks with a client certificate or another address (see below).
    extra: str = ""


def everyone(result: Expect) -> dict[str, Expect]:
    return dict.fromkeys(SUBJECTS, result)


def public(get: Expect = OK, *, municipal: Expect | None = None, ib: Expect | None = None):
    results = everyone(get)
    if municipal is not None:
        results.update(dict.fromkeys(MUNICIPAL, municipal))
    if ib is not None:
        results["ib"] = ib
    return results


MUNICIPAL_PAGE = Rule(
    "municipal page: any logged-in gemeente user, for the gemeente acted for",
    get={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, OK), "ib": FORBIDDEN},
    post={"anonymous": TO_LOGIN, "ib": FORBIDDEN},
)


def object_of_a(owner: Expect = OK) -> Rule:
    others = expect(404, 405, label="404")
    return Rule(
        "an object of gemeente A: A (also through an intermediary acting for A); "
        "404 for everyone else",
        get={
            "anonymous": TO_LOGIN,
            "user_a": owner,
            "intermediary_for_a": owner,
            "user_b": NOT_FOUND,
            "intermediary_for_c": NOT_FOUND,
            "ib": FORBIDDEN,
        },
        post={
            "anonymous": expect(302, 405, label="→ inloggen/405"),
            "user_b": others,
            "intermediary_for_c": others,
            "ib": expect(403, 405, label="403"),
        },
    )


ADMIN_ONLY = Rule(
    "admin only: IB administrators with a second factor",
    get={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": ADMIN_INSIDE},
)

#: Second-factor pages (two_factor / maykin-2fa): for IB staff only, like the rest of
#: the admin (msdportaal.core.security.AdminAreaMiddleware; the views themselves would
#: let any logged-in gemeente user set up a TOTP device).
MFA_PAGE = Rule(
    "second factor: IB staff only (after the password step, or logged in)",
    get={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": ADMIN_INSIDE},
)

ADMIN_LOGIN = Rule(
    "public: the admin login (maykin-2fa's view, also under the name admin:login)",
    get=public(OK, ib=expect(200, 302, not_to=f"{ADMIN}login/", label="200/→ beheer")),
)

#: The API: a registered system's certificate, whatever session the visitor has; with it,
#: gemeente A's resources for A's system and a 404 for B's (the "system_scoping" check).
SYSTEM_ONLY = Rule(
    "system certificate only: 401 without one (a web session does not count)",
    get=everyone(UNAUTHORIZED),
    post=everyone(UNAUTHORIZED),
    extra="system_scoping",
)

RULES: dict[str, Rule] = {
    # -- public ------------------------------------------------------------------------
    "organisations:login": Rule(
        "public: the login page (a logged-in gemeente user goes on to the overview)",
        get=public(OK, municipal=TO_OVERVIEW),
    ),
    "organisations:dev_login": Rule(
        "public, and only where MSD_DEV_LOGIN_ENABLED (never in production)",
        get=public(OK),
        extra="dev_login_off",
    ),
    "organisations:logged_out": Rule("public", get=public(OK)),
    "organisations:logout": Rule(
        "POST only (CSRF-protected), anyone",
        get=everyone(NOT_ALLOWED),
        post=everyone(expect(302, to="/uitgelogd/", label="→ uitgelogd")),
    ),
    "core:home": Rule(
        "public: to the login, or to the overview",
        get=public(TO_LOGIN, municipal=TO_OVERVIEW, ib=TO_OVERVIEW),
    ),
    "core:keepalive": Rule(
        "POST only: 401 without a session",
        get=everyone(NOT_ALLOWED),
        post=public(NO_CONTENT, ib=NO_CONTENT) | {"anonymous": UNAUTHORIZED},
    ),
    "eherkenning:login": Rule(
        "public: starts an eHerkenning login (to the broker, or a Dutch error page)",
        get=everyone(expect(200, 302, 503, label="200/302/503")),
    ),
    "eherkenning:acs": Rule(
        "public: where the eHerkenning broker sends the person back (POST/artifact)",
        get=everyone(expect(200, 302, 400, 403, 405, label="no access without an artifact")),
        post=everyone(expect(200, 302, 400, 403, 405, label="no access without an artifact")),
        extra="acs_never_logs_in",
    ),
    "metadata:eherkenning": Rule(
        "public: our SAML metadata (400 until eHerkenning is configured)",
        get=everyone(expect(200, 400, label="200/400")),
    ),
    "metadata:eh-dienstcatalogus": Rule(
        "public: our eHerkenning service catalogue (400 until configured)",
        get=everyone(expect(200, 400, label="200/400")),
    ),
    "operations:liveness": Rule("public: health probe", get=everyone(OK)),
    "operations:readiness": Rule(
        "public: readiness probe", get=everyone(expect(200, 503, label="200/503"))
    ),
    "operations:metrics": Rule(
        "MSD_METRICS_ALLOWED_IPS only (the test client is 127.0.0.1); 404 elsewhere",
        get=everyone(OK),
        extra="metrics_elsewhere",
    ),
    # -- municipal pages -----------------------------------------------------------------
    "overview:index": MUNICIPAL_PAGE,
    "deliveries:upload": MUNICIPAL_PAGE,
    "deliveries:history": MUNICIPAL_PAGE,
    "reports:inbox": MUNICIPAL_PAGE,
    "consent:forms": MUNICIPAL_PAGE,
    "notifications:inbox": MUNICIPAL_PAGE,
    "notifications:contacts": MUNICIPAL_PAGE,
    "organisations:choose": MUNICIPAL_PAGE,
    "organisations:profile": MUNICIPAL_PAGE,
    "agenda:deadline": Rule(
        "municipal: the acting gemeente's own deadline as an .ics file (its extension)",
        get={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, OK), "ib": FORBIDDEN},
        post={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, NOT_ALLOWED), "ib": FORBIDDEN},
    ),
    "agenda:renew": Rule(
        "municipal, POST only: makes or renews the user's agenda link for the acting gemeente",
        get={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, NOT_ALLOWED), "ib": FORBIDDEN},
        post={
            "anonymous": TO_LOGIN,
            **dict.fromkeys(MUNICIPAL, expect(302, to="/mijn-gegevens/", label="→ gegevens")),
            "ib": FORBIDDEN,
        },
    ),
    "notifications:mark_read": Rule(
        "municipal, POST only",
        get={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, NOT_ALLOWED), "ib": FORBIDDEN},
        post={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, REDIRECT), "ib": FORBIDDEN},
    ),
    # -- objects of gemeente A -----------------------------------------------------------
    "deliveries:check": object_of_a(),
    "deliveries:confirmation": object_of_a(),
    "deliveries:detail": object_of_a(),
    "reports:download": object_of_a(),
    "notifications:edit_contact": object_of_a(),
    "consent:check": object_of_a(),
    "consent:confirmation": object_of_a(),
    "deliveries:receipt": object_of_a(),
    "deliveries:receipt_pdf": object_of_a(),
    "consent:receipt": object_of_a(),
    "consent:receipt_pdf": object_of_a(),
    # -- the agenda feed, by the token in its URL ------------------------------------------
    "agenda:feed": Rule(
        "the token is the credential (calendar apps have no session): user A's link for A "
        "answers anyone; a wrong, renewed or withdrawn one is a 404",
        get=everyone(OK),
        post=everyone(NOT_ALLOWED),
        extra="feed_token",
    ),
    # -- RINIS, by client certificate ----------------------------------------------------
    "transport:gb_download": Rule(
        "RINIS's certificate only: 404 for everyone else",
        get=everyone(NOT_FOUND),
        extra="rinis_gets_the_file",
    ),
    "transport:inbound": Rule(
        "RINIS's certificate only (POST): 403 without it",
        get=everyone(NOT_ALLOWED),
        post=everyone(FORBIDDEN),
        extra="rinis_is_let_in",
    ),
    # -- the upload page's resumable uploads (session + CSRF, msdportaal.api.web) --------
    "api:web_uploads": Rule(
        "municipal session only (tus creation by POST): 403 without one, 412 without tus",
        get={"anonymous": FORBIDDEN, **dict.fromkeys(MUNICIPAL, NOT_ALLOWED), "ib": FORBIDDEN},
        post={"anonymous": FORBIDDEN, **dict.fromkeys(MUNICIPAL, expect(412)), "ib": FORBIDDEN},
    ),
    "api:web_upload": Rule(
        "the person's own upload only: its creator (A's user); 404 for everyone else, even "
        "a colleague acting for A",
        get={
            "anonymous": FORBIDDEN,
            "user_a": OK,  # its status as JSON (HEAD/PATCH/DELETE need Tus-Resumable)
            "intermediary_for_a": NOT_FOUND,
            "user_b": NOT_FOUND,
            "intermediary_for_c": NOT_FOUND,
            "ib": FORBIDDEN,
        },
        post={"anonymous": FORBIDDEN, "ib": FORBIDDEN},
    ),
    "api:web_finish": Rule(
        "municipal, POST only: 400 without complete uploads of one's own",
        get={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, NOT_ALLOWED), "ib": FORBIDDEN},
        post={"anonymous": TO_LOGIN, **dict.fromkeys(MUNICIPAL, expect(400)), "ib": FORBIDDEN},
    ),
    # -- the API for systems, by client certificate (docs/api.md) --------------------------
    "api:schema": Rule("public: the OpenAPI document", get=everyone(OK)),
    "api:docs": Rule("public: the API's readable documentation", get=everyone(OK)),
    "api:gemeenten": SYSTEM_ONLY,
    "api:expected": SYSTEM_ONLY,
    "api:uploads": SYSTEM_ONLY,
    "api:upload": SYSTEM_ONLY,
    "api:confirm": SYSTEM_ONLY,
    "api:deliveries": SYSTEM_ONLY,
    "api:delivery": SYSTEM_ONLY,
    "api:reports": SYSTEM_ONLY,
    "api:report_download": SYSTEM_ONLY,
    "api:consent": SYSTEM_ONLY,
    "api:notifications": SYSTEM_ONLY,
    # -- the IB admin ----------------------------------------------------------------------
    "admin:login": ADMIN_LOGIN,
    "maykin_2fa:login": ADMIN_LOGIN,
    "maykin_2fa:recovery": Rule(
        "public, but only during a login (the backup-token step): else to the login",
        get=everyone(TO_ADMIN_LOGIN),
    ),
    "admin:logout": Rule(
        "POST only, for an administrator; anyone else is sent to the admin login",
        get={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": NOT_ALLOWED},
        post={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": REDIRECT},
    ),
    "maykin_2fa:setup": MFA_PAGE,
    "maykin_2fa:qr": MFA_PAGE,
    "maykin_2fa:setup_complete": MFA_PAGE,
    "maykin_2fa:backup_tokens": MFA_PAGE,
    "maykin_2fa:account_security": MFA_PAGE,
    "admin:index": ADMIN_ONLY,
    "admin:password_change": ADMIN_ONLY,
    "admin:password_change_done": ADMIN_ONLY,
    "admin:autocomplete": ADMIN_ONLY,
    "admin:jsi18n": ADMIN_ONLY,
    "admin:view_on_site": ADMIN_ONLY,
    "admin:app_list": ADMIN_ONLY,
    "admin:<catch-all>": Rule(
        "the admin's catch-all: to the login for everyone but an administrator",
        get={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": expect(404, label="404")},
    ),
    # Custom admin views: each one named, so a new one needs a decision.
    "admin:otp_totp_totpdevice_config": ADMIN_ONLY,
    "admin:otp_totp_totpdevice_qrcode": ADMIN_ONLY,
    "admin:download_csr": ADMIN_ONLY,
    "admin:simple_certmanager_certificate_public_certificate": ADMIN_ONLY,
    "admin:consent_consentform_overview": ADMIN_ONLY,
    "admin:transport_outboundmessage_resend": Rule(
        "admin only: the confirmation page (GET); the resend itself is a POST",
        get={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": ADMIN_INSIDE},
        post={**dict.fromkeys(SUBJECTS, TO_ADMIN_LOGIN), "ib": ADMIN_INSIDE},
    ),
    "admin:auth_user_password_change": ADMIN_ONLY,
    "admin:digid_eherkenning_eherkenningconfiguration_idp_metadata_file": ADMIN_ONLY,
    # Every ModelAdmin's standard URLs (and the bare object URL that redirects to change).
    "admin:*_changelist": ADMIN_ONLY,
    "admin:*_add": ADMIN_ONLY,
    "admin:*_history": ADMIN_ONLY,
    "admin:*_delete": ADMIN_ONLY,
    "admin:*_change": ADMIN_ONLY,
    "admin:<object> */<path:object_id>/": ADMIN_ONLY,
}


# --- every URL pattern --------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the rule key: "namespace:name", or a description for unnamed ones
    route: str  # the full pattern text
    pattern: URLPattern


def _walk(resolver: URLResolver, prefix: str = "", ns: tuple[str, ...] = ()) -> Iterator[Route]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = (*ns, pattern.namespace) if pattern.namespace else ns
            yield from _walk(pattern, prefix + str(pattern.pattern), namespace)
            continue
        route = prefix + str(pattern.pattern)
        namespace = ":".join(ns)
        if pattern.name:
            key = f"{namespace}:{pattern.name}" if namespace else pattern.name
        elif str(pattern.pattern) == "(?P<url>.*)$":
            key = f"{namespace}:<catch-all>"
        elif str(pattern.pattern) == "<path:object_id>/":
            key = f"{namespace}:<object> {route}"
        else:
            key = f"{namespace}:<unnamed> {route}"
        yield Route(key, route, pattern)


ROUTES = list(_walk(get_resolver()))
_BY_CALLBACK = {id(r.pattern.callback): r for r in reversed(ROUTES)}  # the first one wins


def rule_for(key: str) -> Rule | None:
    if key in RULES:
        return RULES[key]
    for pattern, rule in RULES.items():
        if "*" in pattern and fnmatch.fnmatchcase(key, pattern):
            return rule
    return None


def test_every_url_has_a_rule():
    missing = sorted({r.key + "  (" + r.route + ")" for r in ROUTES if rule_for(r.key) is None})
    assert not missing, (
        "These URLs have no access rule in msdportaal/tests/test_url_access.py RULES; "
        "decide who may use them:\n  " + "\n  ".join(missing)
    )


def test_the_walk_finds_every_part_of_the_application():
    keys = {r.key for r in ROUTES}
    for expected in (
        "admin:index",
        "maykin_2fa:setup",
        "organisations:login",
        "deliveries:detail",
        "transport:inbound",
        "admin:deliveries_delivery_change",
    ):
        assert expected in keys
    assert len(ROUTES) > 100


# --- the visitors and gemeente A's objects --------------------------------------------------


class World:
    """The visitors, and A's objects made only when a URL needs them."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.a = Municipality.objects.get(code="0363")  # Amsterdam
        self.b = Municipality.objects.get(code="0344")  # Utrecht
        self.c = Municipality.objects.get(code="0599")  # Rotterdam
        self.user_a = make_municipal_user(self.a, username="medewerker-a")
        self.user_b = make_municipal_user(self.b, username="medewerker-b")
        self.intermediary = make_municipal_user(self.a, self.c, username="intermediair")
        self.ib_user = User.objects.create_superuser("ib-beheerder", "beheer@ib.nl", "x" * 20)
        self.device = TOTPDevice.objects.create(user=self.ib_user, name="default", confirmed=True)

    def client(self, subject: str) -> Client:
        client = Client()
        if subject == "anonymous":
            return client
        if subject == "ib":
            client.force_login(self.ib_user, backend="django.contrib.auth.backends.ModelBackend")
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = self.device.persistent_id
            session.save()
            return client
        user, acting = {
            "user_a": (self.user_a, None),
            "user_b": (self.user_b, None),
            "intermediary_for_a": (self.intermediary, self.a),
            "intermediary_for_c": (self.intermediary, self.c),
        }[subject]
        client.force_login(user, backend=MUNICIPAL_BACKEND)
        if acting is not None:
            session = client.session
            session[SESSION_KEY] = acting.pk
            session.save()
        return client

    # A's objects, made through the application itself where that is cheap.

    @cached_property
    def owner(self) -> Client:
        return self.client("user_a")

    @cached_property
    def delivery(self) -> Any:
        from msdportaal.deliveries.tests.factories import CURRENT, csv_file
        from msdportaal.deliveries.tests.test_upload import upload_and_confirm

        (delivery,) = upload_and_confirm(self.owner, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
        return delivery

    @cached_property
    def pending_batch_id(self) -> str:
        from msdportaal.deliveries.tests.factories import CURRENT, csv_file
        from msdportaal.deliveries.tests.test_upload import upload

        response = upload(self.owner, csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"))
        assert response.status_code == 302
        return response["Location"].split("/")[2]

    @cached_property
    def report(self) -> Any:
        from msdportaal.consent.tests.factories import CURRENT, report

        return report(self.a, CURRENT)

    @cached_property
    def consent_forms(self) -> tuple[Any, Any]:
        from msdportaal.consent.models import ConsentForm
        from msdportaal.consent.tests.factories import CURRENT, PREVIOUS, fill_in, report, submit

        report(self.a, CURRENT)
        report(self.a, PREVIOUS)
        submitted = submit(self.owner, PREVIOUS)
        fill_in(self.owner, CURRENT)
        return submitted, ConsentForm.objects.drafts().get()

    @cached_property
    def contact(self) -> Any:
        from msdportaal.notifications.models import Contact

        return Contact.objects.create(
            municipality=self.a, name="Sanne Bakker", email="sanne@example.org"
        )

    @cached_property
    def gb_message(self) -> Any:
        from msdportaal.deliveries.tests.factories import CURRENT, csv_file
        from msdportaal.deliveries.tests.test_upload import upload_and_confirm
        from msdportaal.transport.models import TransportConfiguration

        config = TransportConfiguration.get_solo()
        config.gb_threshold_bytes = 1000
        config.save()
        (delivery,) = upload_and_confirm(
            self.owner,
            csv_file(f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv", b"a;b\r\n" + b"1;2\r\n" * 500),
        )
        message = delivery.outbound_message
        assert message.gb_token
        return message

    @cached_property
    def feed_token(self) -> str:
        from msdportaal.agenda.models import CalendarSubscription

        assert self.owner.post("/mijn-gegevens/agenda/").status_code == 302
        return CalendarSubscription.objects.get(user=self.user_a).token

    def kwargs(self, key: str) -> dict[str, str]:
        """Real objects of gemeente A for the URLs that take one."""
        objects: dict[str, Callable[[], dict[str, Any]]] = {
            "deliveries:check": lambda: {"batch_id": self.pending_batch_id},
            "deliveries:confirmation": lambda: {"batch_id": self.delivery.batch_id},
            "deliveries:detail": lambda: {"reference": self.delivery.reference},
            "reports:download": lambda: {"pk": self.report.pk},
            "notifications:edit_contact": lambda: {"pk": self.contact.pk},
            "consent:check": lambda: {"form_id": self.consent_forms[1].pk},
            "consent:confirmation": lambda: {"form_id": self.consent_forms[0].pk},
            "deliveries:receipt": lambda: {"batch_id": self.delivery.batch_id},
            "deliveries:receipt_pdf": lambda: {"batch_id": self.delivery.batch_id},
            "consent:receipt": lambda: {"form_id": self.consent_forms[0].pk},
            "consent:receipt_pdf": lambda: {"form_id": self.consent_forms[0].pk},
            "agenda:feed": lambda: {"token": self.feed_token},
            "agenda:deadline": lambda: {"code": "2026HJ02"},  # the next period
            "transport:gb_download": lambda: {"token": self.gb_message.gb_token},
            "api:upload": lambda: {"code": "0363", "upload_id": self.tus_upload.pk},
            "api:web_upload": lambda: {"upload_id": self.web_tus_upload.pk},
            "api:confirm": lambda: {"code": "0363", "upload_id": self.tus_upload.pk},
            "api:delivery": lambda: {"code": "0363", "reference": self.delivery.reference},
            "api:report_download": lambda: {"code": "0363", "pk": self.report.pk},
            "admin:transport_outboundmessage_resend": lambda: {"object_id": self.gb_message.pk},
            # django-otp answers a missing device with a 500, so: the administrator's own.
            "admin:otp_totp_totpdevice_config": lambda: {"pk": self.device.pk},
            "admin:otp_totp_totpdevice_qrcode": lambda: {"pk": self.device.pk},
        }
        if key.startswith("api:") and key not in objects:
            return {"code": "0363"}
        return {k: str(v) for k, v in objects[key]().items()} if key in objects else {}

    @cached_property
    def web_tus_upload(self) -> Any:
        from msdportaal.api.models import TusUpload

        upload = self.tus_upload
        TusUpload.objects.filter(pk=upload.pk).update(staged_on_completion=False)
        return upload

    @cached_property
    def tus_upload(self) -> Any:
        import datetime

        from django.utils import timezone

        from msdportaal.api.models import TusUpload

        return TusUpload.objects.create(
            municipality=self.a,
            created_by=self.user_a,
            file_name="MSD_WMO-BASIS_0363_2026HJ01.csv",
            length=10,
            expires_at=timezone.now() + datetime.timedelta(hours=1),
        )


# --- turning a pattern into a URL -------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")
_DEFAULTS = {"int": "1", "uuid": str(uuid.UUID(int=1)), "str": "bestaat-niet", "path": "1"}


def build_path(route: Route, values: dict[str, str]) -> str:
    def converter(match: re.Match[str]) -> str:
        return values.get(match["name"], _DEFAULTS.get(match["conv"] or "str", "1"))

    def group(match: re.Match[str]) -> str:
        if match["name"] in values:
            return values[match["name"]]
        if match["body"] == ".*":
            return "bestaat-niet/"
        return match["body"].split("|")[0]  # an alternation: its first choice

    path = _GROUP.sub(group, route.route)  # first: a group's name looks like a converter
    path = _CONVERTER.sub(converter, path)
    return "/" + path.replace("^", "").replace("$", "")


# --- the test --------------------------------------------------------------------------------


def _private(response: Any) -> bool:
    """Whatever a logged-in visitor gets stays out of browser and proxy caches."""
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


def _describe(response: Any) -> str:
    location = response.get("Location")
    return f"{response.status_code}" + (f" → {location}" if location else "")


@pytest.fixture
def quiet_refusals() -> Iterator[None]:
    """Hundreds of expected 403s and 404s: no logged traceback for each (that is slow)."""
    import logging

    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_refusals")
@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.key} {r.route}" for r in ROUTES])
def test_who_gets_what(route: Route, settings: Any, dev_certs: Any) -> None:
    rule = rule_for(route.key)
    if rule is None:
        pytest.fail(f"no access rule for {route.key}: see test_every_url_has_a_rule")
    world = World(settings)
    path = build_path(route, world.kwargs(route.key))
    # A pattern another one shadows (maykin-2fa's login over the admin's, django-solo's
    # change view over a singleton's list) is requested all the same: both must have the
    # same rule.
    resolved = _BY_CALLBACK.get(id(resolve(path).func))
    assert resolved is not None, f"{path} resolves to no known pattern"
    if resolved.route != route.route:
        assert rule_for(resolved.key) is rule, (
            f"{path} ({route.key}) is served by {resolved.key}, which has another rule"
        )

    problems = []
    for method, table in (("GET", rule.get), ("POST", rule.post)):
        for subject, expected in table.items():
            client = world.client(subject)
            response = client.get(path) if method == "GET" else client.post(path, {})
            if not expected.matches(response):
                problems.append(
                    f"{method} as {subject}: expected {expected}, got {_describe(response)}"
                )
            if subject != "anonymous" and not _private(response):
                problems.append(
                    f"{method} as {subject}: Cache-Control "
                    f"{response.get('Cache-Control')!r}, expected private, no-store"
                )
    extra = EXTRA_CHECKS.get(rule.extra)
    if extra is not None:
        problems.extend(extra(world, path, settings, dev_certs))
    assert not problems, f"{path} ({rule.what}):\n  " + "\n  ".join(problems)


# --- checks beyond the visitors ---------------------------------------------------------------


def _rinis_headers(dev_certs: Any, settings: Any) -> dict[str, str]:
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


def _rinis_gets_the_file(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    headers = _rinis_headers(dev_certs, settings)
    response = Client().get(path, **headers)
    if response.status_code != 200:
        return [f"GET with RINIS's certificate: expected 200, got {_describe(response)}"]
    # ... and a portal user's session does not count as a certificate.
    response = world.client("user_a").get(path)
    return [] if response.status_code == 404 else [f"user A got {_describe(response)}"]


def _rinis_is_let_in(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    headers = _rinis_headers(dev_certs, settings)
    response = Client().post(path, b"", content_type="text/xml", **headers)
    if response.status_code == 403:
        return ["POST with RINIS's certificate: refused (403)"]
    return []


def _dev_login_off(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    settings.DEV_LOGIN_ENABLED = False
    problems = []
    for subject in SUBJECTS:
        response = world.client(subject).get(path)
        if response.status_code != 404:
            problems.append(f"with the dev login off, {subject} got {_describe(response)}")
    return problems


def _metrics_elsewhere(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    response = Client(REMOTE_ADDR="192.0.2.10").get(path)
    if response.status_code != 404:
        return [f"from 192.0.2.10: expected 404, got {_describe(response)}"]
    return []


def _acs_never_logs_in(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    client = Client()
    client.get(path)
    client.post(path, {"SAMLart": "AAQAAA==", "RelayState": "/overzicht/"})
    response = client.get("/overzicht/")
    return [] if response.status_code == 302 else ["a made-up artifact logged someone in"]


def _system_scoping(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    """A's system reaches A's resource (whatever it answers, not 401/403/404); B's system,
    and a supplier for B and C, get 404 for it."""
    from msdportaal.api.tests.conftest import SystemApiClient, register

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    own_system = register(dev_certs.gemeente_system.cert, "Systeem A", world.a)
    register(dev_certs.supplier_system.cert, "Leverancier B en C", world.b, world.c)
    from msdportaal.api.models import TusUpload

    # A's upload on the API is A's system's own (a system sees only its own uploads).
    TusUpload.objects.filter(staged_on_completion=True).update(created_by=own_system.user)
    secret = settings.MSD_PROXY_SECRET
    problems = []
    own = SystemApiClient(dev_certs.gemeente_system.cert, secret)
    for method in ("get", "head", "options"):
        response = getattr(own, method)(path, HTTP_TUS_RESUMABLE="1.0.0")
        if response.status_code in (401, 403, 404):
            problems.append(f"{method.upper()} as A's system: got {_describe(response)}")
        if not _private(response):
            problems.append(f"{method.upper()} as A's system: not Cache-Control private, no-store")
    other = SystemApiClient(dev_certs.supplier_system.cert, secret)
    if "/gemeenten/0363/" in path:
        for method in ("get", "post"):
            response = getattr(other, method)(path, HTTP_TUS_RESUMABLE="1.0.0")
            if response.status_code != 404:
                problems.append(f"{method.upper()} as B's supplier: got {_describe(response)}")
    return problems


def _feed_token(world: World, path: str, settings: Any, dev_certs: Any) -> list[str]:
    """Only the token counts: another token is a 404 for everyone (a session of A too), and
    so are a renewed token and the token of a user who no longer has the gemeente."""
    problems = []
    token = world.feed_token
    wrong = path.replace(token, token[::-1])
    for subject in SUBJECTS:
        response = world.client(subject).get(wrong)
        if response.status_code != 404:
            problems.append(f"another token, as {subject}: {_describe(response)}")
    # A renewal: the old URL is gone at once, the new one works.
    world.owner.post("/mijn-gegevens/agenda/")
    from msdportaal.agenda.models import CalendarSubscription

    renewed = CalendarSubscription.objects.get(user=world.user_a).token
    if Client().get(path).status_code != 404:
        problems.append("the renewed (old) token still answers")
    new_path = path.replace(token, renewed)
    if Client().get(new_path).status_code != 200:
        problems.append("the new token does not answer")
    world.user_a.municipalities.set([world.b])
    if Client().get(new_path).status_code != 404:
        problems.append("the token of a user who no longer has gemeente A still answers")
    return problems


EXTRA_CHECKS: dict[str, Callable[[World, str, Any, Any], list[str]]] = {
    "system_scoping": _system_scoping,
    "feed_token": _feed_token,
    "rinis_gets_the_file": _rinis_gets_the_file,
    "rinis_is_let_in": _rinis_is_let_in,
    "dev_login_off": _dev_login_off,
    "metrics_elsewhere": _metrics_elsewhere,
    "acs_never_logs_in": _acs_never_logs_in,
}
