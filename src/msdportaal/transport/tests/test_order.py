"""Messages of one zender reach RINIS in tijdstipBericht order (StUF019), over real HTTPS."""

from __future__ import annotations

import datetime

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, OutboundMessage

pytestmark = pytest.mark.django_db


def control(simulator, path: str, payload: dict | None = None) -> dict:
    url = f"{simulator.control_url}/{path}"
    if payload is None:
        response = requests.get(url, timeout=5)
    else:
        response = requests.post(url, json=payload, timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def client_b(user_b) -> Client:
    client = Client()
    client.force_login(user_b, backend=MUNICIPAL_BACKEND)
    return client


@pytest.fixture
def ib(admin_user) -> Client:
    client = Client()
    TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    client.force_login(admin_user)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.get().persistent_id
    session.save()
    return client


def confirm(client: Client, name: str) -> OutboundMessage:
    (delivery,) = upload_and_confirm(client, make_csv(name))
    return delivery.outbound_message


def test_a_newer_message_waits_behind_a_retrying_one_and_both_arrive_in_order(
    client_a: Client, client_b: Client, ib: Client, simulator, fixed_today
):
    older = confirm(client_a, f"MSD_WMO-BASIS_0363_{CURRENT}.csv")
    control(simulator, "fail", {"mode": "http500", "count": 1})
    assert services.attempt_send(older.pk) == MessageState.RETRYING

    newer = confirm(client_a, f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv")
    assert newer.tijdstip_bericht > older.tijdstip_bericht
    assert services.attempt_send(newer.pk) is None  # its task runs, but it must wait
    assert OutboundMessage.objects.get(pk=newer.pk).state == MessageState.QUEUED

    # Another gemeente is not held up.
    other = confirm(client_b, f"MSD_WMO-BASIS_0344_{CURRENT}.csv")
    assert services.attempt_send(other.pk) == MessageState.DELIVERED

    # The gemeente and IB see why it waits.
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert "wacht op eerdere aanlevering" in history
    overview = client_a.get(reverse("overview:index")).content.decode()
    assert overview.count("Nog niet doorgestuurd") == 2  # the retrying one and the one behind it
    changelist = ib.get(reverse("admin:transport_outboundmessage_changelist")).content.decode()
    assert changelist.count("wacht op eerdere aanlevering") == 1

    # Not even the sweeper sends it early, however long it waited.
    fixed_today.shift(datetime.timedelta(seconds=20))
    assert newer.pk not in services.due_messages()

    fixed_today.shift(datetime.timedelta(minutes=2))
    assert services.due_messages() == [older.pk]
    assert services.attempt_send(older.pk) == MessageState.DELIVERED
    assert services.due_messages() == [newer.pk]  # released (and triggered on commit)
    assert services.attempt_send(newer.pk) == MessageState.DELIVERED
    assert "wacht op eerdere aanlevering" not in (
        client_a.get(reverse("deliveries:history")).content.decode()
    )

    at_rinis = [
        m["tijdstipBericht"]
        for m in control(simulator, "messages")["messages"]
        if m["zender"]["organisatie"] == "0363"
    ]
    assert at_rinis == [older.tijdstip_bericht, newer.tijdstip_bericht]


def test_a_final_failure_releases_the_queue(client_a: Client, simulator, fixed_today):
    older = confirm(client_a, f"MSD_WMO-BASIS_0363_{CURRENT}.csv")
    control(simulator, "fail", {"mode": "http500", "count": 1})
    assert services.attempt_send(older.pk) == MessageState.RETRYING
    newer = confirm(client_a, f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv")
    assert services.attempt_send(newer.pk) is None

    fixed_today.shift(datetime.timedelta(minutes=2))
    control(simulator, "fail", {"mode": "fo03-client", "count": 1})
    assert services.attempt_send(older.pk) == MessageState.FAILED
    assert services.attempt_send(newer.pk) == MessageState.DELIVERED
