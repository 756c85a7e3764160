"""Sending with real Celery workers, over real HTTPS to the RINIS/CBS simulator.

Nothing here calls the outbox in-process: deliveries are confirmed through the portal,
the commit puts a task on the broker, and a ``celery worker`` subprocess sends it. The
faults are real too: a worker is SIGKILLed while RINIS holds back its answer.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.transport.models import AttemptOutcome, MessageState, OutboundMessage

from .conftest import wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the workers must see committed data
    pytest.mark.usefixtures("reference_data"),
]

#: Generous: a worker starts in a few seconds, but CI machines can be slow.
DEADLINE = 60.0


def control(simulator: Any, path: str, payload: dict | None = None) -> dict:
    url = f"{simulator.control_url}/{path}"
    if payload is None:
        response = requests.get(url, timeout=5)
    else:
        response = requests.post(url, json=payload, timeout=5)
    response.raise_for_status()
    return response.json()


def stored_at_simulator(simulator: Any) -> dict[str, dict]:
    """What the simulator accepted and stored, by referentienummer."""
    return {m["referentienummer"]: m for m in control(simulator, "messages")["messages"]}


def stored_file_sha256(simulator: Any, message: OutboundMessage) -> str:
    path = Path(simulator.config.storage) / message.referentienummer / message.bestandsnaam
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_of(message: OutboundMessage) -> str:
    return OutboundMessage.objects.values_list("state", flat=True).get(pk=message.pk)


def test_a_confirmed_delivery_goes_via_broker_and_worker_to_rinis(
    start_worker, client_a: Client, simulator
):
    worker = start_worker()
    content = csv_bytes(500)
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message

    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what=f"{message} delivered",
        workers=[worker],
    )
    message.refresh_from_db()
    assert message.attempts == 1
    assert message.attempt_log.get().outcome == AttemptOutcome.ACCEPTED
    assert list(stored_at_simulator(simulator)) == [message.referentienummer]
    assert stored_file_sha256(simulator, message) == hashlib.sha256(content).hexdigest()
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert "doorgestuurd naar CBS op" in history


def test_a_worker_killed_mid_send_is_replaced_and_the_message_delivered_once(
    start_worker, client_a: Client, simulator
):
    # RINIS stores the message, then holds back its answer: the worker waits mid-send
    # (its read time-out is longer than the time it takes us to notice and kill it).
    control(simulator, "fail", {"mode": "slow", "count": 1, "delay_seconds": 30})
    first = start_worker(MSD_RINIS_READ_TIMEOUT="20")
    content = csv_bytes(2000)
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message
    wait_until(
        lambda: message.referentienummer in stored_at_simulator(simulator),
        timeout=DEADLINE,
        what="the Di01 at the simulator",
        workers=[first],
    )
    assert state_of(message) == MessageState.SENDING

    first.kill()

    message.refresh_from_db()
    assert message.state == MessageState.SENDING  # the dead worker still holds the lease
    assert message.delivered_at is None
    # A new worker comes up (as systemd would start one). It sees that the lease's holder,
    # a process on this machine, is gone: it does not wait for the lease to run out.
    second = start_worker()

    wait_until(
        lambda: state_of(message) == MessageState.DELIVERED,
        timeout=DEADLINE,
        what=f"{message} delivered after the restart",
        workers=[second],
    )
    assert timezone.now() < message.lease_until  # long before the dead worker's lease ended
    message.refresh_from_db()
    assert message.attempt_log.filter(outcome=AttemptOutcome.ACCEPTED).count() == 1
    # The resend was the same message: RINIS recognised it and kept one copy.
    status = control(simulator, "status")
    assert status["counters"]["received"] == 2
    assert status["counters"]["duplicates"] == 1
    assert status["messages"]["stored"] == 1
    assert list(stored_at_simulator(simulator)) == [message.referentienummer]
    assert stored_file_sha256(simulator, message) == hashlib.sha256(content).hexdigest()


def test_fifty_deliveries_at_once_are_all_delivered_byte_identical(start_worker, simulator):
    worker = start_worker(pool="prefork", concurrency=2)
    municipalities = list(Municipality.objects.order_by("code")[:50])
    assert len(municipalities) == 50

    def deliver(numbered: tuple[int, Municipality]) -> tuple[str, str]:
        number, municipality = numbered
        try:
            user = make_municipal_user(municipality, username=f"medewerker-{municipality.code}")
            client = Client()
            client.force_login(user, backend=MUNICIPAL_BACKEND)
            content = csv_bytes(100 + number)
            name = f"MSD_WMO-BASIS_{municipality.code}_{CURRENT}.csv"
            (delivery,) = upload_and_confirm(client, make_csv(name, content))
            return delivery.reference, hashlib.sha256(content).hexdigest()
        finally:
            connection.close()  # this thread's own connection

    # Gemeenten upload at the same time, while the worker is already sending.
    with ThreadPoolExecutor(max_workers=5) as pool:
        uploaded = dict(pool.map(deliver, enumerate(municipalities)))
    assert len(uploaded) == 50

    wait_until(
        lambda: OutboundMessage.objects.filter(state=MessageState.DELIVERED).count() == 50,
        timeout=DEADLINE,
        what="50 messages delivered",
        workers=[worker],
    )
    assert not Delivery.objects.exclude(outbound_message__state=MessageState.DELIVERED).exists()
    at_simulator = stored_at_simulator(simulator)
    assert len(at_simulator) == 50
    for delivery in Delivery.objects.select_related("outbound_message", "municipality"):
        message = delivery.outbound_message
        meta = at_simulator[message.referentienummer]
        assert meta["referentienummerBericht"] == delivery.reference
        assert meta["zender"]["organisatie"] == delivery.municipality.code
        assert meta["sha256"] == uploaded[delivery.reference]
        assert stored_file_sha256(simulator, message) == uploaded[delivery.reference]
    # Each sent once: no task ran twice, no resend was needed.
    status = control(simulator, "status")
    assert status["counters"]["received"] == 50
    assert "duplicates" not in status["counters"]
