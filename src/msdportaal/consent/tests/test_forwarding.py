"""The consent CSV reaches CBS (the simulator, over real HTTPS) byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from lxml import etree

from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.reports.tests.helpers import cert_headers, du01
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, TransportConfiguration, TrustedClient
from msdportaal.transport.stuf import ggk_schema

from .factories import CURRENT, FORMS_URL, PREVIOUS, report, submit

pytestmark = pytest.mark.django_db
GGK = "{http://www.stufstandaarden.nl/sectormodel/ggk/0210}"
NS = {"StUF": "http://www.egem.nl/StUF/StUF0301", "GGK": GGK[1:-1]}


def received(simulator) -> list[Path]:
    return sorted(
        p
        for p in Path(simulator.config.storage).iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )


def test_the_consent_csv_reaches_cbs_byte_identical_in_a_valid_envelope(
    client_a: Client, municipality_a, simulator
):
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS, {"KOSTEN_SBO": "nee"}, name='René Ça; "RC" Dubois')
    with default_storage.open(form.stored_name, "rb") as stored:
        content = stored.read()
    message = form.outbound_message
    assert message.state == MessageState.QUEUED
    assert services.attempt_send(message.pk) == MessageState.DELIVERED, (
        message.attempt_log.get().detail
    )

    (folder,) = received(simulator)
    assert folder.name == message.referentienummer
    assert (folder / form.file_name).read_bytes() == content
    body = etree.fromstring((folder / "envelope.xml").read_bytes())
    di01 = body.find(f".//{GGK}envelopHeenbericht-ggk_Di01")
    ggk_schema().assertValid(etree.ElementTree(di01))
    assert di01.findtext("GGK:stuurgegevens/StUF:zender/StUF:organisatie", namespaces=NS) == "0363"
    assert (
        di01.findtext("GGK:stuurgegevens/StUF:zender/StUF:administratie", namespaces=NS)
        == "Amsterdam"
    )
    assert di01.findtext("GGK:stuurgegevens/StUF:functie", namespaces=NS) == "MSDTOESTEMMING"
    assert (
        di01.findtext("GGK:parameters/GGK:referentienummerBericht", namespaces=NS) == form.reference
    )
    bericht = di01.find("GGK:parameters/GGK:bericht", namespaces=NS)
    assert bericht.get(f"{{{NS['StUF']}}}bestandsnaam") == form.file_name
    assert bericht.get("{http://www.w3.org/2005/05/xmlmime}contentType") == "text/csv"

    page = client_a.get(FORMS_URL).content.decode()
    assert "doorgestuurd naar CBS op 29 november 2026" in page


def test_the_functie_comes_from_the_admin(client_a: Client, municipality_a):
    config = TransportConfiguration.get_solo()
    config.functie_consent = "MSDOPTIN"
    config.save()
    report(municipality_a, CURRENT)
    assert submit(client_a, CURRENT).outbound_message.functie == "MSDOPTIN"


def test_retrying_shows_in_the_history(client_a: Client, municipality_a, simulator):
    import requests

    report(municipality_a, CURRENT)
    form = submit(client_a, CURRENT)
    requests.post(
        f"{simulator.control_url}/fail", json={"mode": "down", "count": 1}, timeout=5
    ).raise_for_status()
    assert services.attempt_send(form.outbound_message.pk) == MessageState.RETRYING
    page = client_a.get(FORMS_URL).content.decode()
    assert "nog niet doorgestuurd — nieuwe poging om" in page


def test_an_op_orde_report_from_cbs_opens_the_form(
    client_a: Client, municipality_a, dev_certs, settings
):
    """End to end: deliver, CBS answers with an "op orde" Du01 through the inbound
    endpoint, and the form for that period opens."""
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN)
    page = client_a.get(FORMS_URL).content.decode()
    assert page.count("<form") == 1  # only the logout form
    (delivery,) = upload_and_confirm(client_a, csv_file("MSD_WMO-BASIS_0363_2025HJ02.csv"))
    body, action = du01(
        "0363",
        cross_refnummer=delivery.outbound_message.referentienummer,
        cross_refnummer_bericht=delivery.reference,
    )
    response = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **cert_headers(dev_certs),
    )
    assert response.status_code == 200, response.content[:500]
    page = client_a.get(FORMS_URL).content.decode()
    assert 'name="periode" value="2025HJ02"' in page
    assert 'name="periode" value="2026HJ01"' not in page
