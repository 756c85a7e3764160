"""/metrics: Prometheus text, computed from the database, only for the allowed addresses."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import DeliveryState, EmailLedger
from msdportaal.reports.tests.helpers import di01
from msdportaal.transport.models import MessageState, OutboundMessage

pytestmark = pytest.mark.django_db


def scrape(client: Client, remote_addr: str = "127.0.0.1") -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", REMOTE_ADDR=remote_addr)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_empty_portal_reports_zeros_for_every_series(client: Client):
    samples = scrape(client)
    for state in ("queued", "sending", "delivered", "retrying", "failed", "none"):
        assert value(samples, "msd_deliveries", state=state) == 0
    assert value(samples, "msd_outbound_queue_depth") == 0
    assert value(samples, "msd_outbound_oldest_unsent_age_seconds") == 0
    assert value(samples, "msd_outbound_failed_messages") == 0
    assert value(samples, "msd_outbound_retries_total") == 0
    assert value(samples, "msd_reports_received", kind="foutrapport") == 0
    assert value(samples, "msd_notification_emails", state="sent") == 0


def test_numbers_come_from_the_database(
    client: Client, client_a: Client, fixed_today, rinis_headers, municipality_a
):
    deliveries = upload_and_confirm(
        client_a,
        make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        make_csv(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
        make_csv(f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv"),
        make_csv("MSD_KOSTEN-JW_0363_2025JJ00.csv"),
    )
    assert len(deliveries) == 4
    delivered, retrying, failed, _queued = (d.outbound_message for d in deliveries)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=delivered.pk).update(
        state=MessageState.DELIVERED, attempts=1, delivered_at=now
    )
    OutboundMessage.objects.filter(pk=retrying.pk).update(state=MessageState.RETRYING, attempts=3)
    OutboundMessage.objects.filter(pk=failed.pk).update(state=MessageState.FAILED, attempts=5)
    EmailLedger.objects.create(
        key="a", recipient="a@example.org", state=DeliveryState.SENT, claimed_at=now
    )
    EmailLedger.objects.create(
        key="b", recipient="b@example.org", state=DeliveryState.SENT, claimed_at=now
    )
    EmailLedger.objects.create(
        key="c", recipient="c@example.org", state=DeliveryState.FAILED, claimed_at=now
    )
    body, action = di01("0363")
    response = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **rinis_headers,
    )
    assert response.status_code == 200, response.content.decode()

    fixed_today.shift(datetime.timedelta(hours=1))
    samples = scrape(client)

    assert value(samples, "msd_deliveries", state="delivered") == 1
    assert value(samples, "msd_deliveries", state="retrying") == 1
    assert value(samples, "msd_deliveries", state="failed") == 1
    assert value(samples, "msd_deliveries", state="queued") == 1
    assert value(samples, "msd_outbound_messages", kind="aanlevering", state="queued") == 1
    assert value(samples, "msd_outbound_queue_depth") == 2  # queued + retrying
    age = value(samples, "msd_outbound_oldest_unsent_age_seconds")
    assert 3600 <= age < 3600 + 120
    assert value(samples, "msd_outbound_failed_messages") == 1
    assert value(samples, "msd_outbound_retries_total") == (3 - 1) + (5 - 1)
    assert value(samples, "msd_reports_received", kind="foutrapport") == 1
    assert value(samples, "msd_reports_received", kind="op_orde") == 0
    assert value(samples, "msd_notification_emails", state="sent") == 2
    assert value(samples, "msd_notification_emails", state="failed") == 1
    assert value(samples, "msd_notification_emails", state="pending") == 0

    # Another scrape (another web process would do the same) sees the same numbers,
    # and sees changes as soon as the database has them.
    def steady(found: dict) -> dict:
        return {k: v for k, v in found.items() if "age" not in k[0]}

    assert steady(scrape(client)) == steady(samples)
    OutboundMessage.objects.filter(pk=retrying.pk).update(
        state=MessageState.DELIVERED, attempts=4, delivered_at=timezone.now()
    )
    again = scrape(client)
    assert value(again, "msd_outbound_queue_depth") == 1
    assert value(again, "msd_outbound_retries_total") == (4 - 1) + (5 - 1)


@pytest.mark.parametrize("address", ["10.0.0.7", "192.168.1.20", "2001:db8::1", "not-an-ip"])
def test_metrics_are_404_from_anywhere_else(client: Client, address: str):
    response = client.get("/metrics", REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 404
    assert b"msd_" not in response.content


def test_metrics_from_ipv6_loopback_and_an_allowed_network(client: Client, settings):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    settings.MSD_METRICS_ALLOWED_IPS = ["10.42.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.42.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.42.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
