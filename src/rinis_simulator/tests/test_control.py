"""The control interface and every failure mode it can inject."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from rinis_simulator.config import SimulatorConfig
from rinis_simulator.server import Simulator

from .conftest import ControlClient, SoapClient, wait_until
from .messages import build_di01, fo03_code, parse_answer


def test_status_starts_empty(control: ControlClient, simulator: Simulator) -> None:
    status = control.get("status")
    assert status["messages"]["stored"] == 0
    assert status["fail_queue"] == []
    assert status["soap_url"] == simulator.soap_url
    assert status["functies"] == ["MSDAANLEVERING", "MSDTOESTEMMING"]


def test_down_closes_the_connection_without_answer(
    client: SoapClient, control: ControlClient
) -> None:
    control.post("fail", {"mode": "down", "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.post(build_di01().body)
    assert client.post(build_di01().body).status_code == 200
    status = control.get("status")
    assert status["messages"]["stored"] == 1
    assert status["counters"]["injected_down"] == 1


def test_http500_is_plain_not_soap(client: SoapClient, control: ControlClient) -> None:
    control.post("fail", {"mode": "http500", "count": 2})
    for _ in range(2):
        response = client.post(build_di01().body)
        assert response.status_code == 500
        assert response.headers["Content-Type"].startswith("text/plain")
    assert client.post(build_di01().body).status_code == 200
    assert control.get("status")["messages"]["stored"] == 1


@pytest.mark.parametrize(
    ("mode", "code", "plek", "faultcode"),
    [
        ("fo03-server", "StUF046", "server", "soap:Server"),
        ("fo03-client", "StUF010", "client", "soap:Client"),
    ],
)
def test_fo03_modes(
    client: SoapClient, control: ControlClient, mode: str, code: str, plek: str, faultcode: str
) -> None:
    control.post("fail", {"mode": mode, "count": 2})
    message = build_di01()
    for _ in range(2):
        response = client.post(message.body)
        assert response.status_code == 500
        assert fo03_code(response.content) == (code, plek)
        assert parse_answer(response.content).findtext("faultcode") == faultcode
    # Nothing was stored, so the resend after the outage is simply accepted.
    assert client.post(message.body).status_code == 200
    assert control.get("status")["messages"]["stored"] == 1


def test_fo03_mode_with_explicit_code(client: SoapClient, control: ControlClient) -> None:
    control.post("fail", {"mode": "fo03-server", "code": "StUF058", "details": "storing"})
    assert fo03_code(client.post(build_di01().body).content) == ("StUF058", "server")


def test_slow_answers_late_but_stores_first(client: SoapClient, control: ControlClient) -> None:
    control.post("fail", {"mode": "slow", "count": 1, "delay_seconds": 2.0})
    message = build_di01()
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        client.post(message.body, timeout=0.5)
    assert time.monotonic() - started < 2.0
    # The message was stored before the (lost) answer: the resend is a duplicate.
    wait_until(lambda: control.get("status")["messages"]["stored"] == 1, message="stored")
    resend = client.post(message.body)
    assert resend.status_code == 200
    assert control.get("status")["counters"]["duplicates"] == 1


def test_slow_still_answers_when_the_client_waits(
    client: SoapClient, control: ControlClient
) -> None:
    control.post("fail", {"mode": "slow", "delay_seconds": 0.3})
    started = time.monotonic()
    assert client.post(build_di01().body, timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_modes_queue_in_order(client: SoapClient, control: ControlClient) -> None:
    control.post("fail", {"mode": "http500"})
    status = control.post("fail", {"mode": "fo03-client"})
    assert [entry["mode"] for entry in status["fail_queue"]] == ["http500", "fo03-client"]
    assert client.post(build_di01().body).headers["Content-Type"].startswith("text/plain")
    assert fo03_code(client.post(build_di01().body).content)[0] == "StUF010"
    assert client.post(build_di01().body).status_code == 200


def test_reset_clears_queue_and_optionally_messages(
    client: SoapClient, control: ControlClient
) -> None:
    assert client.post(build_di01().body).status_code == 200
    control.post("fail", {"mode": "down", "count": 5})
    control.post("gb-break", {"after_bytes": 10})
    status = control.post("reset")
    assert status["fail_queue"] == []
    assert status["gb_break_after_bytes"] is None
    assert status["messages"]["stored"] == 1
    assert client.post(build_di01().body).status_code == 200
    status = control.post("reset", {"clear_messages": True})
    assert status["messages_deleted"] == 2
    assert status["messages"]["stored"] == 0


def test_messages_list_and_detail(client: SoapClient, control: ControlClient) -> None:
    first, second = build_di01(b"een"), build_di01(b"twee")
    client.post(first.body)
    client.post(second.body)
    listed = control.get("messages")["messages"]
    assert [m["referentienummer"] for m in listed] == [
        first.referentienummer,
        second.referentienummer,
    ]
    detail = control.get(f"messages/{first.referentienummer}")
    assert detail["size"] == 3
    assert detail["bestandsnaam"] == first.bestandsnaam
    missing = requests.get(f"{control.base}/messages/{uuid.uuid4()}", timeout=5)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {"mode": "kapot"},
        {"mode": "down", "count": 0},
        {"mode": "slow", "delay_seconds": -1},
        {"mode": "down", "count": "twee"},
    ],
)
def test_bad_fail_requests_are_rejected(control: ControlClient, payload: dict[str, object]) -> None:
    control.post("fail", payload, expect=400)
    assert control.get("status")["fail_queue"] == []


def test_control_rejects_bad_json_and_unknown_paths(control: ControlClient) -> None:
    response = requests.post(f"{control.base}/fail", data=b"{niet json", timeout=5)
    assert response.status_code == 400
    assert requests.get(f"{control.base}/onbekend", timeout=5).status_code == 404


def test_control_must_listen_on_loopback(sim_config: SimulatorConfig) -> None:
    sim_config.control_host = "0.0.0.0"
    with pytest.raises(ValueError, match="loopback"):
        Simulator(sim_config)
