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


def test_the_read_time_out_grows_with_the_message(
    client_a: Client, simulator, settings, fixed_today
):
    # RINIS stores the message and answers after 2 s. A 0.5 s time-out with no allowance
    # per MB gives up on a 1.6 MB message; 3 s per MB gives it 0.5 + 3 × 1.6 s, enough.
    settings.MSD_RINIS_READ_TIMEOUT, settings.MSD_RINIS_READ_SECONDS_PER_MB = 0.5, 0
    content = csv_bytes(60_000)
    assert 1_100_000 < len(content) < 1_300_000  # base64 makes ~1.6 MB of it
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message
    control(simulator, "fail", {"mode": "slow", "count": 2, "delay_seconds": 2})
    assert services.attempt_send(message.pk) == MessageState.RETRYING
    assert "Timeout" in message.attempt_log.get().detail

    settings.MSD_RINIS_READ_SECONDS_PER_MB = 3
    fixed_today.shift(datetime.timedelta(minutes=2))
    assert services.attempt_send(message.pk) == MessageState.DELIVERED


def test_time_outs_and_lease_fit_the_size_of_the_message(settings):
    from msdportaal.transport import client

    settings.MSD_RINIS_CONNECT_TIMEOUT = 5
    settings.MSD_RINIS_READ_TIMEOUT, settings.MSD_RINIS_READ_SECONDS_PER_MB = 30, 2

    def message(size: int) -> OutboundMessage:
        return OutboundMessage(
            municipality_id=1,
            referentienummer="8c1d8f43-3c5b-4c0e-9a0f-3f1f0d0b6e2a",
            tijdstip_bericht="20261129100000000",
            functie="MSDAANLEVERING",
            zender_applicatie="MSDPortaal",
            zender_administratie="",
            applicatie_versie="0001",
            applicatie_subversie="0000",
            functie_versie="0001",
            functie_subversie="0000",
            referentienummer_bericht="20261129-100000-001",
            bestandsnaam="MSD_WMO-BASIS_0363_2026HJ01.csv",
            content_type="text/csv",
            stored_name="x",
            size=size,
            sha256="0" * 64,
        )

    from msdportaal.organisations.models import Municipality

    small, largest = message(10_000), message(18_700_000)  # the latter: a 25 MB Di01
    for m in (small, largest):
        m.municipality = Municipality.objects.get(code="0363")
    assert 24_900_000 < client.request_length(largest) <= 25_000_000
    assert client.timeouts_for(small).read == pytest.approx(30.03, abs=0.01)
    assert client.timeouts_for(largest).read == pytest.approx(80, abs=0.3)
    assert client.timeouts_for(small).connect == 5
    # Another worker may take a message over only after its send can no longer be running.
    for m in (small, largest):
        timeouts = client.timeouts_for(m)
        assert services.lease_seconds(m) > timeouts.connect + timeouts.upload + timeouts.read
    assert services.lease_seconds(largest) > client.timeouts_for(largest).read


def test_sends_go_to_the_rinis_queue_and_everything_else_to_the_default_one():
    from msdportaal.celery import RINIS_QUEUE, app

    def queue(task: str) -> str:
        return app.amqp.Router().route({}, task)["queue"].name

    assert queue("msdportaal.transport.tasks.send_outbound_message") == RINIS_QUEUE == "rinis"
    for task in (
        "msdportaal.transport.tasks.sweep_outbox",
        "msdportaal.notifications.tasks.send_stored_email",
        "msdportaal.notifications.tasks.sweep_emails",
        "msdportaal.operations.tasks.apply_retention",
    ):
        assert queue(task) == "celery"


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
    fixed_today.shift(datetime.timedelta(seconds=services.lease_seconds(message) + 1))
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
