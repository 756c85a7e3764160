"""The client address in the audit trail and the login lockout, behind the TLS front."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
import requests
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.urls import reverse
from requests.adapters import HTTPAdapter

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.core.client_ip import client_ip
from msdportaal.organisations.models import Municipality

#: A second loopback address, so the client is not the proxy's own 127.0.0.1.
CLIENT_ADDRESS = "127.0.0.2"


class _FromAddress(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (CLIENT_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(dev_certs: Any) -> requests.Session:
    session = requests.Session()
    session.mount("https://", _FromAddress())
    # Per request, not session.verify: REQUESTS_CA_BUNDLE in the environment would win.
    session.request = functools.partial(session.request, verify=str(dev_certs.ca_cert))  # type: ignore[method-assign]
    return session


def _dev_login_through(front: str, session: requests.Session, **headers: str) -> None:
    form = session.get(f"{front}{reverse('organisations:dev_login')}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    response = session.post(
        f"{front}{reverse('organisations:dev_login')}",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "municipality": Municipality.objects.get(code="0363").pk,
            "name": "Fatima de Vries",
            "email": "fatima@example.org",
            "extra_codes": "",
        },
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]


def test_behind_a_trusted_proxy_the_audit_shows_the_clients_address(
    rinis_facing: str, dev_certs: Any, settings: Any
) -> None:
    settings.MSD_TRUSTED_PROXIES = ["127.0.0.1"]
    # A client's own X-Forwarded-For never gets through: tls_front replaces it.
    _dev_login_through(rinis_facing, _session(dev_certs), **{"X-Forwarded-For": "203.0.113.9"})
    assert AuditEntry.objects.get(action=AuditAction.LOGIN).ip_address == CLIENT_ADDRESS


def test_without_trusted_proxies_the_audit_shows_the_peer(
    rinis_facing: str, dev_certs: Any, settings: Any
) -> None:
    settings.MSD_TRUSTED_PROXIES = []
    _dev_login_through(rinis_facing, _session(dev_certs))
    assert AuditEntry.objects.get(action=AuditAction.LOGIN).ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Any) -> None:
    settings.MSD_TRUSTED_PROXIES = ["10.0.0.0/8"]
    factory = RequestFactory()
    spoofed = factory.get("/", REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(spoofed) == "198.51.100.4"
    # From the proxy: the hop it saw, not what a client wrote further left.
    proxied = factory.get(
        "/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4"
    )
    assert client_ip(proxied) == "198.51.100.4"
    garbled = factory.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(garbled) == "10.1.2.3"


@pytest.mark.django_db
def test_the_lockout_counts_the_forwarded_address(settings: Any) -> None:
    settings.MSD_TRUSTED_PROXIES = ["127.0.0.1"]
    client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    client.post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "auth",
            "auth-username": "ib-beheerder",
            "auth-password": "fout",
        },
    )
    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == "198.51.100.4"
    failed = AuditEntry.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.ip_address == "198.51.100.4"
