"""Structured logs: one JSON object per line, with the request id, task id and message."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.operations import logs
from msdportaal.operations.tasks import apply_retention
from msdportaal.transport import services
from msdportaal.transport.models import MessageState

pytestmark = pytest.mark.django_db


def requests_logged(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("event") == "request"]


def test_a_request_logs_one_json_line_with_its_request_id(client: Client, json_logs):
    response = client.get("/inloggen/")
    request_id = response["X-Request-ID"]
    assert uuid.UUID(request_id).version == 4

    (line,) = requests_logged(json_logs())
    assert line["request_id"] == request_id
    assert line["method"] == "GET"
    assert line["path"] == "/inloggen/"
    assert line["status"] == response.status_code
    assert line["level"] == "info"
    assert line["logger"] == "msdportaal.request"
    assert line["timestamp"].endswith("Z")
    assert isinstance(line["duration_ms"], float)


def test_a_sane_request_id_from_the_proxy_is_kept(client: Client, json_logs):
    response = client.get("/inloggen/", HTTP_X_REQUEST_ID="nginx-7f3a9c0e21b4")
    assert response["X-Request-ID"] == "nginx-7f3a9c0e21b4"
    (line,) = requests_logged(json_logs())
    assert line["request_id"] == "nginx-7f3a9c0e21b4"


@pytest.mark.parametrize(
    "given", ["", "two words", 'quote"d', "x" * 300, "<script>", "-leading-dash", "naïve"]
)
def test_an_odd_request_id_is_replaced(client: Client, given: str):
    response = client.get("/gezond/", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given
    assert uuid.UUID(response["X-Request-ID"]).version == 4


def test_djangos_own_error_lines_carry_the_request_id(client: Client, json_logs):
    response = client.get("/bestaat-niet/")
    assert response.status_code == 404
    lines = json_logs()
    (not_found,) = [line for line in lines if line.get("logger") == "django.request"]
    assert not_found["request_id"] == response["X-Request-ID"]
    assert "request" not in not_found  # the request object's repr stays out


def test_probes_log_quietly(client: Client, json_logs):
    client.get("/gezond/")
    client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert requests_logged(json_logs()) == []


def test_the_grote_berichten_token_stays_out_of_the_access_log(client: Client, json_logs):
    client.get("/rinis/gb/geheim-token-123/")
    (line,) = requests_logged(json_logs())
    assert "geheim-token-123" not in line["path"]
    assert line["path"] == "/rinis/gb/***/"


def test_a_send_attempt_logs_its_message(client_a: Client, simulator, json_logs):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    assert services.attempt_send(message.pk) == MessageState.DELIVERED
    attempt_lines = [
        line for line in json_logs() if line.get("logger") == "msdportaal.transport.services"
    ]
    assert attempt_lines
    for line in attempt_lines:
        assert line["message_id"] == message.pk
        assert line["referentienummer"] == message.referentienummer


def test_a_celery_task_logs_its_task_id(json_logs):
    result = apply_retention.apply()
    (line,) = [line for line in json_logs() if line.get("event") == "retention: purged"]
    assert line["task_id"] == result.id
    assert line["task_name"] == "msdportaal.operations.tasks.apply_retention"


def test_the_console_format_is_for_people(client: Client):
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hallo %s", ("wereld",), None)
    rendered = logs.formatter("console").format(record)
    assert "hallo wereld" in rendered
    assert not rendered.startswith("{")


def test_an_unknown_log_format_stops_start_up():
    with pytest.raises(ImproperlyConfigured):
        logs.configure("xml", "INFO")
