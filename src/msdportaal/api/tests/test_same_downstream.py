"""A delivery through the API is indistinguishable downstream from one through the browser."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest
from django.test import Client

from msdportaal.core.storage import open_stored
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import csv_bytes, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import EmailLedger
from msdportaal.transport.client import di01_for
from msdportaal.transport.models import OutboundMessage

from .conftest import SystemApiClient

pytestmark = pytest.mark.django_db
CURRENT = "2026HJ01"
SAME = [
    "kind",
    "municipality_id",
    "functie",
    "zender_applicatie",
    "zender_administratie",
    "applicatie_versie",
    "applicatie_subversie",
    "functie_versie",
    "functie_subversie",
    "bestandsnaam",
    "content_type",
    "size",
    "sha256",
    "state",
]


def _via_api(system: SystemApiClient, name: str, data: bytes) -> Delivery:
    tus = {"HTTP_TUS_RESUMABLE": "1.0.0"}
    created = system.post(
        "/api/v1/gemeenten/0363/uploads/",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(name.encode()).decode(),
        **tus,
    )
    url = created["Location"]
    system.patch(
        url, data, content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0", **tus
    )
    (reference,) = system.post(url + "bevestigen/").json()["aanleveringen"]
    return Delivery.objects.get(reference=reference)


def test_same_file_same_message_same_receipt(system_a: SystemApiClient, client_a: Client, user_a):
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    data = csv_bytes(300)
    (web,) = upload_and_confirm(client_a, csv_file(name, data))
    api = _via_api(system_a, name, data)

    pattern = re.compile(r"^\d{8}-\d{6}-\d{3}$")  # one reference scheme for both
    assert pattern.match(web.reference)
    assert pattern.match(api.reference)
    assert api.files.get().replaces == web.files.get()  # the second replaces the first
    web_message = OutboundMessage.objects.get(pk=web.outbound_message_id)
    api_message = OutboundMessage.objects.get(pk=api.outbound_message_id)
    for name_ in SAME:
        assert getattr(api_message, name_) == getattr(web_message, name_), name_

    def envelope(message: OutboundMessage) -> object:
        """The Di01 as sent, but for what differs per message (its ids and moment)."""
        fields = dataclasses.asdict(di01_for(message))
        for varying in ("referentienummer", "tijdstip_bericht", "referentienummer_bericht"):
            fields.pop(varying)
        return fields

    assert envelope(api_message) == envelope(web_message)
    with open_stored(api_message.stored_name) as a, open_stored(web_message.stored_name) as w:
        assert a.read() == w.read() == data
    receipts = EmailLedger.objects.filter(key__startswith="receipt:").order_by("pk")
    web_receipt, api_receipt = receipts
    assert web_receipt.subject == api_receipt.subject
    assert [r.recipient for r in receipts] == [user_a.email, "systeem@example.nl"]
