"""Fixtures for the eHerkenning tests: a PKI, a running test broker, the admin configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from digid_eherkenning.choices import ConfigTypes
from digid_eherkenning.models import ConfigCertificate, EherkenningConfiguration
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from simple_certmanager.constants import CertificateTypes
from simple_certmanager.models import Certificate

from .idp import (
    BROKER_OIN,
    SP_ENTITY_ID,
    SP_OIN,
    Pki,
    Scenario,
    TestBroker,
    make_pki,
    running_broker,
)

#: KvK number IB registered for Amsterdam in these tests.
AMSTERDAM_KVK = "12345678"


@pytest.fixture(scope="session")
def eh_pki(tmp_path_factory: Any) -> Pki:
    return make_pki(tmp_path_factory.mktemp("eherkenning-pki"))


@pytest.fixture
def broker(eh_pki: Pki, settings: Any) -> Iterator[TestBroker]:
    with running_broker(eh_pki) as running:
        settings.MSD_EHERKENNING_CA_BUNDLE = str(eh_pki.ca_file)
        settings.MSD_EHERKENNING_TIMEOUT = 5.0
        yield running


def configure_eherkenning(broker: TestBroker, base_url: str) -> EherkenningConfiguration:
    """What IB fills in on the admin's eHerkenning configuration page."""
    pki = broker.pki
    certificate = Certificate.objects.create(
        label="MSD Portaal SAML",
        type=CertificateTypes.key_pair,
        public_certificate=ContentFile(pki.sp.cert_pem.encode(), name="sp.pem"),
        private_key=ContentFile(pki.sp.key_pem.encode(), name="sp-key.pem"),
    )
    ConfigCertificate.objects.create(config_type=ConfigTypes.eherkenning, certificate=certificate)
    config = EherkenningConfiguration.get_solo()
    config.entity_id = SP_ENTITY_ID
    config.base_url = base_url
    config.service_name = "MSD Portaal"
    config.service_description = "Aanleveren voor de Monitor Sociaal Domein"
    config.oin = SP_OIN
    config.makelaar_id = BROKER_OIN
    config.privacy_policy = "https://www.inlichtingenbureau.nl/privacy"
    config.organization_name = "Inlichtingenbureau"
    config.organization_url = "https://www.inlichtingenbureau.nl"
    config.no_eidas = True
    config.idp_service_entity_id = broker.entity_id
    config.idp_metadata_file.save(
        "broker-metadata.xml", ContentFile(broker.metadata().encode()), save=False
    )
    config.save()
    return config


@pytest.fixture
def eherkenning(broker: TestBroker, db: None) -> TestBroker:
    """eHerkenning configured against the test broker, for the Django test client."""
    configure_eherkenning(broker, "https://msdportaal.example.nl")
    return broker


@pytest.fixture
def amsterdam_registered(municipality_a: Any) -> Any:
    municipality_a.kvk_number = AMSTERDAM_KVK
    municipality_a.save()
    return municipality_a


@pytest.fixture
def log_in_with(client: Client, eherkenning: TestBroker) -> Callable[..., Any]:
    """Go through the whole flow with the Django test client; returns the ACS response."""

    def flow(scenario: Scenario, *, next_url: str = "", using: Client | None = None) -> Any:
        """``using``: another browser (test client) than the test's ``client``."""
        browser = using or client
        query = {"next": next_url} if next_url else {}
        start = browser.get(reverse("eherkenning:login"), query)
        assert start.status_code == 200
        artifact = eherkenning.issue_artifact(start.context["saml_request"], scenario)
        params = {"SAMLart": artifact}
        if start.context["relay_state"]:
            params["RelayState"] = start.context["relay_state"]
        return browser.get(reverse("eherkenning:acs"), params)

    return flow
