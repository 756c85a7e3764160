"""Recovery after a RINIS outage, with a real Celery worker and the simulator.

When one send succeeds again, the messages waiting for a retry do not sit out their
back-off: they are released at once, a few at a time.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import time_machine
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.transport.models import MessageState, OutboundMessage

from .conftest import wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]


def control(simulator: Any, path: str, payload: dict | None = None) -> dict:
    url = f"{simulator.control_url}/{path}"
    response = (
        requests.post(url, json=payload, timeout=5)
        if payload is not None
        else requests.get(url, timeout=5)
    )
    response.raise_for_status()
    return response.json()


def deliver(municipality: Municipality) -> OutboundMessage:
    user = make_municipal_user(municipality, username=f"medewerker-{municipality.code}")
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    name = f"MSD_WMO-BASIS_{municipality.code}_{CURRENT}.csv"
    (delivery,) = upload_and_confirm(client, make_csv(name))
    return delivery.outbound_message


def test_after_an_outage_one_success_releases_every_waiting_message(start_worker, simulator):
    # A long back-off: without the release, nothing would be retried within this test.
    worker = start_worker(
        MSD_RINIS_RETRY_BASE_SECONDS="900",
        MSD_OUTBOX_RECOVERY_BATCH="3",
        # The worker's clock a little ahead of ours, as a node's may be: what we make due
        # now is due for it too (its clock lags by up to a few seconds otherwise).
        MSD_TEST_CLOCK_OFFSET=repr(time.time() - time_machine.escape_hatch.time.time() + 10),
    )
    *waiting_for, first_after = list(Municipality.objects.order_by("code")[:9])
    control(simulator, "fail", {"mode": "down", "count": len(waiting_for)})
    waiting = [deliver(m) for m in waiting_for]
    wait_until(
        lambda: OutboundMessage.objects.filter(state=MessageState.RETRYING).count() == 8,
        timeout=60,
        what="8 messages retrying",
        workers=[worker],
    )
    assert all(
        m.next_attempt_at.timestamp() - time.time() > 300
        for m in OutboundMessage.objects.filter(pk__in=[m.pk for m in waiting])
    )

    # RINIS is back; the next delivery goes through and the waiting ones follow at once.
    recovered = time.monotonic()
    deliver(first_after)
    wait_until(
        lambda: OutboundMessage.objects.filter(state=MessageState.DELIVERED).count() == 9,
        timeout=15,
        what="all 9 messages delivered",
        workers=[worker],
    )
    drained = time.monotonic() - recovered
    assert drained < 15
    at_rinis = control(simulator, "messages")["messages"]
    assert len(at_rinis) == 9
    assert control(simulator, "status")["counters"].get("duplicates", 0) == 0
