"""Hardening that applies to every request: extra security headers, and the admin only
on its own host(s). (The login lockout: lockout.py.)

Content-Security-Policy comes from django-csp, HSTS, nosniff, Referrer-Policy and
Cross-Origin-Opener-Policy from Django's SecurityMiddleware, X-Frame-Options from the
clickjacking middleware (settings.py, section "Hardening").
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import is_same_domain, url_has_allowed_host_and_scheme


class SecurityHeadersMiddleware:
    """Adds the headers Django does not set itself (Permissions-Policy)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.MSD_PERMISSIONS_POLICY
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        return response


class PrivateCacheMiddleware:
    """Nothing a logged-in user sees is stored by a browser or proxy cache.

    Municipal pages and downloads (deliveries, CBS reports, consent forms) and the admin
    get ``Cache-Control: private, no-store``, so the back button on a shared computer
    after logging out, or a caching proxy, shows nothing. Static files are served by
    WhiteNoise before this middleware and keep their long cache lifetime.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Asked before the view: the answer to a logout is still the logged-in user's.
        user = getattr(request, "user", None)
        logged_in = user is not None and user.is_authenticated
        response = self.get_response(request)
        if logged_in:
            patch_cache_control(response, private=True, no_store=True)
        return response


def local_path(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is an absolute path on this site (``/...``), else ``""``.

    A ``next`` or ``RelayState`` from the browser must never send a user elsewhere
    (``//evil.example``, ``https://evil.example``, ``javascript:``), and a bare word is
    not a path either: ``redirect("word")`` would try it as a URL name and answer 500.
    """
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return ""
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return candidate


def admin_path_prefix() -> str:
    return f"/{settings.MSD_ADMIN_PATH}/"


def is_admin_path(path: str) -> bool:
    prefix = admin_path_prefix()
    return path.startswith(prefix) or path == prefix.rstrip("/")


def is_admin_host(host: str) -> bool:
    """Is ``host`` (``request.get_host()``, port and all) one of MSD_ADMIN_HOSTS?

    Empty MSD_ADMIN_HOSTS: every host. Entries are host names as in ALLOWED_HOSTS
    (``.example.nl`` matches the domain and its subdomains); the port is ignored.
    """
    allowed = settings.MSD_ADMIN_HOSTS
    if not allowed:
        return True
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    hostname = hostname.lower().rstrip(".")
    return any(is_same_domain(hostname, pattern.lower()) for pattern in allowed)


class AdminHostMiddleware:
    """The IB admin (and its 2FA pages) only on MSD_ADMIN_HOSTS: elsewhere a plain 404,
    so the portal's public host does not even show that an admin exists."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.MSD_ADMIN_HOSTS
            and is_admin_path(request.path_info)
            and not is_admin_host(request.get_host())
        ):
            raise Http404
        return self.get_response(request)


#: Admin pages anyone may open: the login and its backup-token step.
ADMIN_OPEN_PATHS = ("login/", "mfa/recovery/")


class AdminAreaMiddleware:
    """Everything under MSD_ADMIN_PATH but the login is for IB staff only.

    The admin's own pages check this, but the second-factor pages of two_factor /
    maykin-2fa only ask for *a* logged-in user: a gemeente user could open the TOTP setup
    and account pages. Here one rule covers every admin URL, present and future: anyone
    else is sent to the admin login, as the admin itself does.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if is_admin_path(path):
            inside = path.removeprefix(admin_path_prefix())
            user = getattr(request, "user", None)
            staff = user is not None and user.is_authenticated and user.is_staff
            if not staff and inside not in ADMIN_OPEN_PATHS:
                return redirect_to_login(
                    request.get_full_path(), login_url=f"{admin_path_prefix()}login/"
                )
        return self.get_response(request)
