"""Forwarding deliveries to RINIS over real HTTPS against the simulator."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, zip_bytes, zip_file
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.outbox import sweep_stored_emails
from msdportaal.transport import services
from msdportaal.transport.models import (
    MessageState,
    OutboundAttempt,
    OutboundMessage,
    TransportConfiguration,
)
from msdportaal.transport.stuf import ggk_schema
from msdportaal.transport.tasks import sweep_outbox

pytestmark = pytest.mark.django_db
GGK = "{http://www.stufstandaarden.nl/sectormodel/ggk/0210}"


def control(simulator, path: str, payload: dict | None = None) -> dict:
    url = f"{simulator.control_url}/{path}"
    response = (
        requests.post(url, json=payload or {}, timeout=5)
        if payload is not None
        else requests.get(url, timeout=5)
    )
    response.raise_for_status()
    return response.json()


def received(simulator) -> list[Path]:
    return sorted(
        p
        for p in Path(simulator.config.storage).iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )


def test_a_delivery_reaches_the_simulator_byte_identical_in_a_valid_envelope(
    client_a: Client, simulator
):
    content = csv_bytes(3000)
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message
    assert message.state == MessageState.QUEUED
    state = services.attempt_send(message.pk)
    assert state == MessageState.DELIVERED, message.attempt_log.get().detail

    (folder,) = received(simulator)
    assert folder.name == message.referentienummer
    stored = folder / f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == hashlib.sha256(content).hexdigest()
    # The envelope as RINIS received it validates against the official schema.
    body = etree.fromstring((folder / "envelope.xml").read_bytes())
    di01 = body.find(f".//{GGK}envelopHeenbericht-ggk_Di01")
    ggk_schema().assertValid(etree.ElementTree(di01))
    ns = {"StUF": "http://www.egem.nl/StUF/StUF0301", "GGK": GGK[1:-1]}
    assert di01.findtext("GGK:stuurgegevens/StUF:zender/StUF:organisatie", namespaces=ns) == "0363"
    assert (
        di01.findtext("GGK:stuurgegevens/StUF:zender/StUF:administratie", namespaces=ns)
        == "Amsterdam"
    )
    assert di01.findtext("GGK:stuurgegevens/StUF:functie", namespaces=ns) == "MSDAANLEVERING"
    assert (
        di01.findtext("GGK:parameters/GGK:referentienummerBericht", namespaces=ns)
        == delivery.reference
    )
    assert (
        di01.find("GGK:parameters/GGK:bericht", namespaces=ns).get(
            "{http://www.egem.nl/StUF/StUF0301}bestandsnaam"
        )
        == delivery.file_name
    )

    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert "doorgestuurd naar CBS op 29 november 2026" in history


def test_a_zip_travels_unchanged(client_a: Client, simulator):
    content = zip_bytes(
        {
            f"MSD_WMO-BASIS_0363_{CURRENT}.csv": csv_bytes(),
            f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv": csv_bytes(),
        }
    )
    (delivery,) = upload_and_confirm(client_a, zip_file("levering.zip", content=content))
    assert services.attempt_send(delivery.outbound_message.pk) == MessageState.DELIVERED
    (folder,) = received(simulator)
    assert (folder / "levering.zip").read_bytes() == content
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()


def test_simulator_down_then_up_is_delivered_with_the_same_referentienummer(
    client_a: Client, simulator, fixed_today
):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    control(simulator, "fail", {"mode": "down", "count": 1})
    assert services.attempt_send(message.pk) == MessageState.RETRYING
    message.refresh_from_db()
    assert (
        "nog niet doorgestuurd — nieuwe poging om"
        in client_a.get(reverse("deliveries:history")).content.decode()
    )
    assert services.attempt_send(message.pk) is None  # not due yet: nobody sends it early
    fixed_today.shift(datetime.timedelta(minutes=2))
    assert sweep_outbox() == 1  # the sweeper finds it due
    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    message.refresh_from_db()
    assert message.attempts == 2
    assert [p.name for p in received(simulator)] == [message.referentienummer]


def test_http_500_then_ok(client_a: Client, simulator, fixed_today):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    control(simulator, "fail", {"mode": "http500", "count": 1})
    message = delivery.outbound_message
    assert services.attempt_send(message.pk) == MessageState.RETRYING
    assert "500" in message.attempt_log.get().detail
    fixed_today.shift(datetime.timedelta(minutes=2))
    assert services.attempt_send(message.pk) == MessageState.DELIVERED


def test_time_out_is_retried_and_the_resend_is_recognised(
    client_a: Client, simulator, settings, fixed_today
):
    settings.MSD_RINIS_READ_TIMEOUT = 0.5
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    control(simulator, "fail", {"mode": "slow", "count": 1, "delay_seconds": 3})
    message = delivery.outbound_message
    assert services.attempt_send(message.pk) == MessageState.RETRYING
    assert "Timeout" in message.attempt_log.get().detail
    fixed_today.shift(datetime.timedelta(minutes=2))
    # The simulator stored the slow one; the resend is the same message and is answered Bv03.
    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    assert len(received(simulator)) == 1


def test_fo03_server_is_retried(client_a: Client, simulator, fixed_today):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    control(simulator, "fail", {"mode": "fo03-server", "count": 1})
    assert services.attempt_send(delivery.outbound_message.pk) == MessageState.RETRYING
    fixed_today.shift(datetime.timedelta(minutes=2))
    assert services.attempt_send(delivery.outbound_message.pk) == MessageState.DELIVERED


def test_fo03_client_fails_at_once_and_alerts_ib(
    client_a: Client, simulator, mailbox, django_capture_on_commit_callbacks
):
    config = TransportConfiguration.get_solo()
    config.ib_alert_email = "functioneelbeheer@ib.example"
    config.save()
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    control(simulator, "fail", {"mode": "fo03-client", "count": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert services.attempt_send(delivery.outbound_message.pk) == MessageState.FAILED
    sweep_stored_emails()  # what the e-mail task does once the failure committed
    (alert,) = mailbox.to("functioneelbeheer@ib.example")
    assert alert["Subject"].strip() == (
        f"MSD Portaal: verzending mislukt — Amsterdam (GM0363) {delivery.reference}"
    )
    assert "StUF010" in alert.get_body(("plain",)).get_content()
    assert (
        "mislukt — IB is ingelicht" in client_a.get(reverse("deliveries:history")).content.decode()
    )

    # IB resends it from the admin: same referentienummer and tijdstipBericht.
    message = OutboundMessage.objects.get()
    before = (message.referentienummer, message.tijdstip_bericht)
    assert services.resend(message)
    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    message.refresh_from_db()
    assert (message.referentienummer, message.tijdstip_bericht) == before


def test_giving_up_after_the_retry_window(client_a: Client, simulator, fixed_today):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    control(simulator, "fail", {"mode": "http500", "count": 1000})
    states = []
    for _ in range(40):
        state = services.attempt_send(message.pk)
        if state is not None:
            states.append(state)
        if state == MessageState.FAILED:
            break
        fixed_today.shift(datetime.timedelta(hours=3))
    assert states[-1] == MessageState.FAILED
    message.refresh_from_db()
    assert datetime.timedelta(hours=71) <= message.failed_at - message.window_started_at
    assert message.failed_at - message.window_started_at <= datetime.timedelta(hours=75)
    assert message.attempts > 5


def test_tijdstip_bericht_increases_per_gemeente(client_a: Client):
    deliveries = upload_and_confirm(
        client_a,
        *[make_csv(f"MSD_WMO-{s}_0363_{CURRENT}.csv") for s in ("BASIS", "KOSTEN", "FACULTATIEF")],
    )
    moments = [d.outbound_message.tijdstip_bericht for d in deliveries]
    assert moments == sorted(moments)
    assert len(set(moments)) == 3
    assert all(len(m) == 17 for m in moments)


def test_a_send_cut_short_by_a_dying_worker_counts_and_is_taken_over(
    client_a: Client, simulator, fixed_today
):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    assert services.claim(message.pk)  # a worker takes it...
    OutboundAttempt.objects.create(message=message, number=1, started_at=timezone.now())
    # ...and dies: nobody may take it over while its lease runs,
    assert services.attempt_send(message.pk) is None
    fixed_today.shift(datetime.timedelta(seconds=services.lease_seconds() + 1))
    # after that the sweeper finds it, and the next worker sends it.
    assert sweep_outbox() == 1
    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    message.refresh_from_db()
    assert message.attempts == 2
    first, second = message.attempt_log.order_by("number")
    assert (first.number, first.outcome) == (1, "error")
    assert "afgebroken" in first.detail
    assert (second.number, second.outcome) == (2, "bv03")


def test_the_sweeper_leaves_fresh_messages_to_their_task_and_picks_up_lost_ones(
    client_a: Client, fixed_today, settings
):
    upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert sweep_outbox() == 0  # its on-commit task is on its way
    fixed_today.shift(datetime.timedelta(seconds=2 * settings.MSD_OUTBOX_SWEEP_SECONDS + 1))
    assert sweep_outbox() == 1  # that task was lost (broker down?): send it anyway
