"""Over real HTTPS both ways: the portal, its TLS front, and the RINIS/CBS simulator."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user, wait_for
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.transport import services
from msdportaal.transport.models import MessageState

MIB = 1024 * 1024


def meta(simulator, referentienummer: str) -> dict:
    path = Path(simulator.config.storage) / referentienummer / "meta.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture
def client_a_live(rinis_facing) -> Client:
    user = make_municipal_user(Municipality.objects.get(code="0363"), username="live-a")
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    return client


def test_60_mib_goes_by_grote_berichten_and_a_broken_download_resumes(
    client_a_live: Client, simulator, rinis_facing
):
    content = (hashlib.sha256(b"seed").digest() * (60 * MIB // 32))[: 60 * MIB]
    (delivery,) = upload_and_confirm(
        client_a_live, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message
    assert message.uses_grote_berichten
    requests.post(f"{simulator.control_url}/gb-break", json={"after_bytes": 7 * MIB}, timeout=5)

    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    done = wait_for(
        lambda: (
            meta(simulator, message.referentienummer).get("complete")
            and meta(simulator, message.referentienummer)
        ),
        timeout=120,
        what="the simulator's Grote Berichten download",
    )
    assert done["sha256"] == hashlib.sha256(content).hexdigest()
    assert done["size"] == len(content)
    transfers = done["gb"]["transfers"]
    assert len(transfers) >= 2  # broken once, then resumed
    assert any("Range" in json.dumps(t) or "range" in json.dumps(t) for t in transfers[1:])


def test_only_rinis_gets_through_the_front(
    client_a_live: Client, dev_certs, rinis_facing, simulator
):
    from msdportaal.transport.models import TransportConfiguration

    config = TransportConfiguration.get_solo()
    config.gb_threshold_bytes = 1000
    config.save()
    (delivery,) = upload_and_confirm(client_a_live, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    url = f"{rinis_facing}/rinis/gb/{delivery.outbound_message.gb_token}/"
    ca = str(dev_certs.ca_cert)
    assert requests.get(url, verify=ca, timeout=10).status_code == 404
    portal_cert = (str(dev_certs.portal_client.cert), str(dev_certs.portal_client.key))
    assert requests.get(url, verify=ca, cert=portal_cert, timeout=10).status_code == 404
    forged = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-Cert": "forged"}
    assert requests.get(url, verify=ca, headers=forged, timeout=10).status_code == 404
    rinis_cert = (str(dev_certs.rinis_client.cert), str(dev_certs.rinis_client.key))
    response = requests.get(
        url, verify=ca, cert=rinis_cert, headers={"Range": "bytes=0-9"}, timeout=10
    )
    assert response.status_code == 206
    assert len(response.content) == 10


def test_a_soap_client_built_from_the_official_wsdl_gets_bv03(
    client_a_live: Client, dev_certs, rinis_facing
):
    from zeep import Client as SoapClient
    from zeep.transports import Transport

    from msdportaal.reports.models import Report
    from msdportaal.reports.tests.helpers import SAMPLE_PDF

    wsdl = (
        Path(__file__).resolve().parents[1]
        / "schemas"
        / "stuf-ggk"
        / "ggk0310_21"
        / "ggkberichten"
        / "ggk0310_OntvangAsynchroon.wsdl"
    )
    session = requests.Session()
    session.cert = (str(dev_certs.rinis_client.cert), str(dev_certs.rinis_client.key))
    session.verify = str(dev_certs.ca_cert)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over verify
    soap = SoapClient(str(wsdl), transport=Transport(session=session))
    binding = next(iter(soap.wsdl.bindings))
    service = soap.create_service(binding, f"{rinis_facing}/rinis/ggk/")
    from django.utils import timezone

    from msdportaal.transport.stuf import format_tijdstip, new_referentienummer

    stuurgegevens = {
        "berichtcode": "Di01",
        "zender": {"organisatie": "CBS", "applicatie": "GGk"},
        "ontvanger": {"organisatie": "0363", "applicatie": "MSDPortaal"},
        "referentienummer": new_referentienummer(),
        "tijdstipBericht": format_tijdstip(timezone.now()),
        "functie": "MSDFOUTRAPPORT",
    }
    parameters = {
        "referentienummerBericht": "CBS-42",
        "applicatieVersie": "0001",
        "applicatieSubversie": "0000",
        "functieVersie": "0001",
        "functieSubversie": "0000",
        "bericht": {
            "_value_1": SAMPLE_PDF,
            "bestandsnaam": "foutrapport.pdf",
            "contentType": "application/pdf",
        },
    }
    answer = service.ggk_Di01(stuurgegevens=stuurgegevens, parameters=parameters)
    assert answer.berichtcode == "Bv03"  # zeep unwraps Bv03Bericht to its stuurgegevens
    report = Report.objects.get()
    assert report.municipality.code == "0363"
    assert report.file_name == "foutrapport.pdf"
