"""Systems with certificates, and an API client that sends what the TLS front would."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from simple_certmanager.constants import CertificateTypes
from simple_certmanager.models import Certificate

from msdportaal.api.models import Ketenmachtiging, SystemClient
from msdportaal.organisations.models import Municipality


def register(
    cert_path: Path, name: str, *municipalities: Municipality, email: str = "systeem@example.nl"
) -> SystemClient:
    certificate = Certificate.objects.create(
        label=name,
        type=CertificateTypes.cert_only,
        public_certificate=ContentFile(cert_path.read_bytes(), name=f"{name}.pem"),
    )
    client = SystemClient.objects.create(name=name, certificate=certificate, contact_email=email)
    for municipality in municipalities:
        Ketenmachtiging.objects.create(client=client, municipality=municipality, basis="test")
    return client


class SystemApiClient(Client):
    """The Django test client, with a certificate as tls_front passes it on."""

    def __init__(self, cert_path: Path | None, secret: str, **defaults: Any) -> None:
        if cert_path is not None:
            defaults |= {
                "HTTP_X_SSL_CLIENT_CERT": quote(cert_path.read_text(), safe=""),
                "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
                "HTTP_X_MSD_PROXY_SECRET": secret,
            }
        super().__init__(**defaults)


@pytest.fixture
def api_settings(settings: Any) -> Any:
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    return settings


@pytest.fixture
def system_a(dev_certs: Any, municipality_a: Municipality, api_settings: Any) -> SystemApiClient:
    """Gemeente A's own system."""
    register(dev_certs.gemeente_system.cert, "Gemeente A systeem", municipality_a)
    return SystemApiClient(dev_certs.gemeente_system.cert, api_settings.MSD_PROXY_SECRET)


@pytest.fixture
def supplier(
    dev_certs: Any, municipality_a: Municipality, municipality_b: Municipality, api_settings: Any
) -> SystemApiClient:
    """A supplier acting for gemeenten A and B under ketenmachtigingen."""
    register(dev_certs.supplier_system.cert, "Leverancier BV", municipality_a, municipality_b)
    return SystemApiClient(dev_certs.supplier_system.cert, api_settings.MSD_PROXY_SECRET)
