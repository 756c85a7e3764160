"""Who may call the API, and what each system may see."""

from __future__ import annotations

from typing import Any

import pytest

from msdportaal.api.models import SystemClient
from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.consent.tests.factories import CURRENT, report

from .conftest import SystemApiClient

pytestmark = pytest.mark.django_db
A = "/api/v1/gemeenten/0363"
B = "/api/v1/gemeenten/0344"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/api/v1/problemen/{code}"
    assert body["title"]
    assert body["detail"]
    return body


def test_without_a_certificate_the_answer_is_401_in_dutch_and_audited(api_settings):
    response = SystemApiClient(None, "").get(f"{A}/aanleveringen/")
    body = assert_problem(response, 401, "not-authenticated")
    assert "clientcertificaat" in body["detail"]
    assert response["WWW-Authenticate"]
    entry = AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).latest("timestamp")
    assert entry.message == "systeemkoppeling: geen certificaat"


def test_an_unregistered_certificate_is_refused_with_its_fingerprint(dev_certs, api_settings):
    client = SystemApiClient(dev_certs.portal_client.cert, api_settings.MSD_PROXY_SECRET)
    body = assert_problem(client.get(f"{A}/aanleveringen/"), 401, "authentication-failed")
    assert "niet geregistreerd" in body["detail"]
    assert AuditEntry.objects.filter(message="systeemkoppeling: onbekend certificaat").exists()


def test_certificate_headers_without_the_proxy_secret_are_nobody(dev_certs, system_a):
    forged = SystemApiClient(dev_certs.gemeente_system.cert, "not-the-secret")
    assert_problem(forged.get(f"{A}/aanleveringen/"), 401, "not-authenticated")


def test_a_revoked_certificate_gets_403_at_once(system_a):
    assert system_a.get(f"{A}/aanleveringen/").status_code == 200
    SystemClient.objects.get().revoke()
    body = assert_problem(system_a.get(f"{A}/aanleveringen/"), 403, "certificaat-ingetrokken")
    assert "ingetrokken" in body["detail"]
    assert AuditEntry.objects.filter(message="systeemkoppeling: ingetrokken certificaat").exists()


def test_a_gemeente_system_gets_404_on_every_resource_of_another_gemeente(system_a, municipality_b):
    foreign = report(municipality_b, CURRENT)
    paths = [
        "verwacht/",
        "uploads/",
        "aanleveringen/",
        "aanleveringen/20261129-100003-001/",
        "rapporten/",
        f"rapporten/{foreign.pk}/download/",
        "toestemming/",
        "meldingen/",
    ]
    for path in paths:
        assert_problem(system_a.get(f"{B}/{path}"), 404, "niet-gevonden")
    # Its own gemeente cannot reach B's report either.
    assert_problem(system_a.get(f"{A}/rapporten/{foreign.pk}/download/"), 404, "niet-gevonden")


def test_a_supplier_sees_exactly_its_gemeenten(supplier, system_a):
    listed = supplier.get("/api/v1/gemeenten/").json()
    assert [(g["code"], g["naam"]) for g in listed] == [("0344", "Utrecht"), ("0363", "Amsterdam")]
    assert supplier.get(f"{B}/aanleveringen/").status_code == 200
    assert supplier.get(f"{A}/aanleveringen/").status_code == 200
    assert_problem(supplier.get("/api/v1/gemeenten/0518/aanleveringen/"), 404, "niet-gevonden")
    own = system_a.get("/api/v1/gemeenten/").json()
    assert [g["code"] for g in own] == ["0363"]


def test_too_many_requests_get_429_with_retry_after(system_a, api_settings):
    from django.core.cache import cache

    cache.clear()
    api_settings.MSD_API_RATE = "3/minute"
    for _ in range(3):
        assert system_a.get(f"{A}/meldingen/").status_code == 200
    response = system_a.get(f"{A}/meldingen/")
    body = assert_problem(response, 429, "te-veel-verzoeken")
    assert int(response["Retry-After"]) > 0
    assert "Probeer het over" in body["detail"]


def test_the_service_account_cannot_log_in_to_the_web_pages(system_a):
    user = SystemClient.objects.get().user
    assert not user.has_usable_password()
    assert user.display_name == "Systeemkoppeling Gemeente A systeem"
    assert SystemClient.objects.get().revoked_at is None
