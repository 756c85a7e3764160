"""Only the TLS-terminating proxy can say who is calling (issue 18).

Any local process reaches gunicorn from 127.0.0.1 as the proxy does; the certificate
headers count only with the secret the proxy adds (MSD_PROXY_SECRET), so such a process
can neither store a report in a gemeente's inbox nor fetch a gemeente's file.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.core.checks import run_checks
from django.test import Client

from msdportaal.reports.models import Report
from msdportaal.reports.tests.helpers import cert_headers, di01
from msdportaal.transport.models import ReceivedMessage, TrustedClient

pytestmark = pytest.mark.django_db
INBOUND = "/rinis/ggk/"


@pytest.fixture
def rinis(dev_certs: Any, settings: Any) -> dict[str, str]:
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.get_or_create(oin=RINIS_OIN, defaults={"name": "RINIS"})
    return cert_headers(dev_certs)


def post(headers: dict[str, str]) -> Any:
    body, action = di01("0363")
    return Client().generic(
        "POST",
        INBOUND,
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **headers,
    )


def nothing_stored() -> bool:
    return not Report.objects.exists() and not ReceivedMessage.objects.exists()


@pytest.mark.parametrize(
    "secret",
    [None, "", "a-guess", "test-only-proxy-secret-0123456789abcdeF"],
    ids=["no-secret", "empty", "guess", "one-character-off"],
)
def test_certificate_headers_without_the_proxy_secret_store_nothing(rinis, secret) -> None:
    headers = {k: v for k, v in rinis.items() if k != "HTTP_X_MSD_PROXY_SECRET"}
    if secret is not None:
        headers["HTTP_X_MSD_PROXY_SECRET"] = secret
    response = post(headers)
    assert response.status_code == 403
    assert "clientcertificaat" in response.content.decode()
    assert nothing_stored()


def test_without_a_configured_secret_nobody_is_rinis(rinis, settings) -> None:
    settings.MSD_PROXY_SECRET = ""
    response = post({**rinis, "HTTP_X_MSD_PROXY_SECRET": ""})
    assert response.status_code == 403
    assert nothing_stored()


def test_with_the_proxy_secret_the_report_is_stored(rinis) -> None:
    response = post(rinis)
    assert response.status_code == 200, response.content.decode()
    assert Report.objects.count() == 1


def test_production_refuses_to_start_without_a_strong_secret(settings) -> None:
    settings.IS_PRODUCTION_LIKE = True
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    settings.MSD_PROXY_SECRET = "short"
    assert "msdportaal.E003" in {problem.id for problem in run_checks()}
    settings.MSD_PROXY_SECRET = "x" * 32
    assert "msdportaal.E003" not in {problem.id for problem in run_checks()}


def test_through_tls_front_only_rinis_gets_in_whatever_headers_a_client_sends(
    rinis_facing: str, dev_certs: Any, settings: Any
) -> None:
    body, action = di01("0363")
    ca = str(dev_certs.ca_cert)
    forged = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{action}"',
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-Cert": cert_headers(dev_certs)["HTTP_X_SSL_CLIENT_CERT"],
        # Even a client that knows the secret cannot pass it through: the proxy drops it.
        "X-MSD-Proxy-Secret": settings.MSD_PROXY_SECRET,
    }
    url = f"{rinis_facing}{INBOUND}"
    response = requests.post(url, data=body, headers=forged, verify=ca, timeout=30)
    assert response.status_code == 403
    assert nothing_stored()

    rinis_cert = (str(dev_certs.rinis_client.cert), str(dev_certs.rinis_client.key))
    response = requests.post(
        url,
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
        cert=rinis_cert,
        verify=ca,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "Bv03Bericht" in response.text
    assert Report.objects.count() == 1
