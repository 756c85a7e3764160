"""What happens when things go wrong in ways the simulator cannot stage."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.reports.models import Report
from msdportaal.transport import client as rinis_client
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, TransportConfiguration
from msdportaal.transport.stuf import iter_di01_gb_soap

pytestmark = pytest.mark.django_db


def test_an_unset_rinis_url_is_retried_not_lost(client_a: Client, settings):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    settings.MSD_RINIS_URL = ""
    assert services.attempt_send(delivery.outbound_message.pk) == MessageState.RETRYING
    assert "MSD_RINIS_URL is not configured" in delivery.outbound_message.attempt_log.get().detail


def test_an_unexpected_error_while_sending_is_retried(client_a: Client, simulator):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    from django.core.files.storage import default_storage

    default_storage.delete(message.stored_name)  # the file is gone: a bug, not RINIS's fault
    assert services.attempt_send(message.pk) == MessageState.RETRYING
    message.refresh_from_db()
    assert message.state == MessageState.RETRYING
    assert message.lease_until is None


def test_resending_a_grote_bericht_keeps_the_message_identical_but_serves_longer(
    client_a: Client, fixed_today
):
    config = TransportConfiguration.get_solo()
    config.gb_threshold_bytes = 1000
    config.save()
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message

    def envelope() -> bytes:
        message.refresh_from_db()
        di01, wsa = rinis_client.di01_for(message), rinis_client.addressing(message)
        return b"".join(iter_di01_gb_soap(di01, rinis_client.gb_metadata_for(message), wsa=wsa))

    before = envelope()
    message.state = MessageState.FAILED
    message.save()
    fixed_today.shift(datetime.timedelta(days=6))
    assert services.resend(message)
    message.refresh_from_db()
    assert message.gb_expires_at > message.gb_announced_expiry  # the file stays available
    assert envelope() == before  # RINIS sees the same message again, not a conflicting one


def test_a_failing_report_store_answers_stuf046_and_keeps_nothing(
    rinis_headers, municipality_a, monkeypatch, media_root
):
    from msdportaal.conftest import stored_files
    from msdportaal.reports.tests.helpers import di01

    def broken_create(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Report.objects, "create", broken_create)
    body, action = di01("0363")
    response = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml",
        HTTP_SOAPACTION=f'"{action}"',
        **rinis_headers,
    )
    assert response.status_code == 500
    assert b"StUF046" in response.content
    assert (
        b"<faultcode>soapenv:Server</faultcode>" in response.content
        or b"Server" in response.content
    )
    assert stored_files(media_root) == []
