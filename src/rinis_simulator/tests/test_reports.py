"""CBS's reports back to the portal: Du01/Di01 with a PDF, retries, auto-report.

The portal is played by :mod:`.portalserver` (HTTPS, RINIS client certificate required);
the simulator runs for real. Waiting is done by polling with a deadline
(:func:`.conftest.wait_until`), never by sleeping.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from rinis_simulator.__main__ import build_parser, config_from_args
from rinis_simulator.config import SimulatorConfig
from rinis_simulator.devcerts import RINIS_OIN, DevCerts
from rinis_simulator.pdf import ReportText, build_report_pdf
from rinis_simulator.server import Simulator
from rinis_simulator.stuf import (
    DI01_TAG,
    DU01_TAG,
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
    UUID4_RE,
)

from .conftest import ControlClient, SoapClient, wait_until
from .fileserver import FileSpec, RangeFileServer
from .messages import NS, build_di01, gb_metadata
from .portalserver import Canned, PortalReceiver, Received

DELIVERY_REF = "20270115-093512-001"  # build_di01's referentienummerBericht
NS_ALL = {**NS, "xmime": "http://www.w3.org/2005/05/xmlmime"}


@pytest.fixture
def receiver(certs: DevCerts) -> Iterator[PortalReceiver]:
    """The portal's inbound endpoint."""
    server = PortalReceiver(certs).start()
    try:
        yield server
    finally:
        server.stop()


StartSim = Callable[..., tuple[Simulator, SoapClient, ControlClient]]


@pytest.fixture
def start_sim(
    sim_config: SimulatorConfig, receiver: PortalReceiver, certs: DevCerts
) -> Iterator[StartSim]:
    """Start a simulator that reports to *receiver* (config overrides as keywords)."""
    started: list[Simulator] = []

    def start(**overrides: Any) -> tuple[Simulator, SoapClient, ControlClient]:
        config = dataclasses.replace(sim_config, **{"portal_url": receiver.url, **overrides})
        sim = Simulator(config).start()
        started.append(sim)
        client = SoapClient(sim.soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))
        return sim, client, ControlClient(sim.control_url)

    try:
        yield start
    finally:
        for sim in started:
            sim.stop()


def deliver(client: SoapClient, **kwargs: Any) -> str:
    """Send a Di01 the simulator accepts; return its referentienummer."""
    message = build_di01(**kwargs)
    response = client.post(message.body)
    assert response.status_code == 200, response.text
    return message.referentienummer


def message_of(received: Received) -> etree._Element:
    """The GGK element in the SOAP Body of a received report."""
    envelope = etree.fromstring(received.body)
    body = envelope.find("soap:Body", NS)
    assert body is not None
    assert len(body) == 1
    return body[0]


def text(element: etree._Element, path: str) -> str | None:
    return element.findtext(path, namespaces=NS_ALL)


def pdf_of(element: etree._Element) -> bytes:
    bericht = element.find("GGK:parameters/GGK:bericht", NS_ALL)
    assert bericht is not None
    assert bericht.get(f"{{{NS_ALL['xmime']}}}contentType") == "application/pdf"
    return base64.b64decode(bericht.text or "", validate=True)


def cross_refs(receiver: PortalReceiver) -> list[str | None]:
    return [text(message_of(r), "GGK:stuurgegevens/StUF:crossRefnummer") for r in receiver.received]


def closed_port_url() -> str:
    """An https URL where nothing listens (the portal is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}/rinis/ggk/"


# ================================================================================ PDF


def test_generated_pdf_is_well_formed(tmp_path: Path) -> None:
    pdf = build_report_pdf(
        ReportText(
            kind="foutrapport",
            gemeente="0363",
            delivery_reference=DELIVERY_REF,
            delivered_file="MSD_WMO-BASIS_0363_2026HJ01.csv",
            report_file="CBS_MSDFOUTRAPPORT_0363_x.pdf",
            created=dt.datetime(2026, 1, 15, 10, 23, tzinfo=dt.UTC),
        )
    )
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    # Every xref entry points at its object, and startxref at the table.
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref\n0 8\n")
    entries = re.findall(rb"(\d{10}) 00000 n \n", pdf[startxref:])
    assert len(entries) == 7
    for number, offset in enumerate(entries, start=1):
        assert pdf[int(offset) :].startswith(f"{number} 0 obj\n".encode())
    length = int(re.search(rb"/Length (\d+) >>\nstream\n", pdf).group(1))  # type: ignore[union-attr]
    start = pdf.index(b"stream\n") + len(b"stream\n")
    assert pdf[start + length : start + length + 9] == b"endstream"
    # WinAnsi: the em dash is byte 0x97, the strings carry the details.
    assert b"(CBS \x97 Monitor Sociaal Domein)" in pdf
    assert b"(Foutrapport)" in pdf
    assert DELIVERY_REF.encode() in pdf
    if shutil.which("pdftoppm"):  # poppler complains about any broken xref/stream
        result = subprocess.run(
            ["pdftoppm", "-png", "-r", "20", "-", str(tmp_path / "page")],
            input=pdf,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        assert (tmp_path / "page-1.png").stat().st_size > 0


# ======================================================================= control API


def test_report_answers_the_delivery_with_a_valid_du01(
    start_sim: StartSim, receiver: PortalReceiver, schema: etree.XMLSchema
) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)

    outcome = control.post("report", {"referentienummer": ref, "kind": "op_orde"})
    assert outcome["status"] == "bv03"
    assert outcome["attempts"] == 1
    assert outcome["answer"]["berichtcode"] == "Bv03"
    assert outcome["answer"]["cross_refnummer"] == outcome["referentienummer"]

    (received,) = receiver.received
    assert received.client_serial == RINIS_OIN
    assert received.headers["SOAPAction"] == f'"{SOAP_ACTION_DU01}"'
    assert received.headers["Content-Type"] == "text/xml; charset=utf-8"
    du01 = message_of(received)
    assert du01.tag == DU01_TAG
    assert schema.validate(du01), schema.error_log
    header = etree.fromstring(received.body).find("soap:Header", NS)
    assert header is not None
    assert text(header, "wsa:Action") == SOAP_ACTION_DU01
    assert text(header, "wsa:To") == receiver.url
    assert (text(header, "wsa:MessageID") or "").startswith("urn:uuid:")
    assert f"OIN={RINIS_OIN}" in (text(header, "wsa:From/wsa:Address") or "")

    sg = "GGK:stuurgegevens/StUF:"
    assert text(du01, sg + "berichtcode") == "Du01"
    assert (
        text(du01, sg + "zender/StUF:organisatie"),
        text(du01, sg + "zender/StUF:applicatie"),
    ) == (
        "CBS",
        "GGk",
    )
    assert text(du01, sg + "ontvanger/StUF:organisatie") == "0363"
    assert text(du01, sg + "ontvanger/StUF:applicatie") == "MSDPortaal"
    assert text(du01, sg + "crossRefnummer") == ref
    assert text(du01, sg + "functie") == "MSDOPORDE"
    assert UUID4_RE.match(text(du01, sg + "referentienummer") or "")
    assert re.fullmatch(r"\d{17}", text(du01, sg + "tijdstipBericht") or "")
    assert text(du01, "GGK:parameters/GGK:crossRefnummerBericht") == DELIVERY_REF
    assert text(du01, "GGK:parameters/GGK:referentienummerBericht")
    pdf = pdf_of(du01)
    assert pdf.startswith(b"%PDF")
    assert outcome["pdf"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    bestandsnaam = du01.find("GGK:parameters/GGK:bericht", NS_ALL).get(  # type: ignore[union-attr]
        f"{{{NS['StUF']}}}bestandsnaam"
    )
    assert bestandsnaam == outcome["bestandsnaam"] == f"CBS_MSDOPORDE_0363_{DELIVERY_REF}.pdf"

    # Recorded: in the report log (with the exact body) and on the answered message.
    listed = control.get("reports")
    assert [r["referentienummer"] for r in listed["reports"]] == [outcome["referentienummer"]]
    assert listed["auto_report"]["mode"] == "off"
    meta = control.get(f"messages/{ref}")
    assert meta["reports"][0]["status"] == "bv03"
    assert meta["reports"][0]["functie"] == "MSDOPORDE"
    storage = _sim.config.storage
    assert (storage / outcome["envelope"]).read_bytes() == received.body
    assert control.get("status")["reports"] == {"total": 1, "bv03": 1}


def test_each_kind_has_its_functie(start_sim: StartSim, receiver: PortalReceiver) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)
    for kind in ("foutrapport", "overig", "op_orde"):
        assert control.post("report", {"referentienummer": ref, "kind": kind})["status"] == "bv03"
    functies = [text(message_of(r), "GGK:stuurgegevens/StUF:functie") for r in receiver.received]
    assert functies == ["MSDFOUTRAPPORT", "MSDRAPPORT", "MSDOPORDE"]
    assert cross_refs(receiver) == [ref, ref, ref]
    assert len(control.get("reports")["reports"]) == 3
    control.post("reset", {"clear_messages": True})
    assert control.get("reports")["reports"] == []
    assert control.get("status")["reports"] == {"total": 0}


def test_unsolicited_di01(
    start_sim: StartSim, receiver: PortalReceiver, schema: etree.XMLSchema
) -> None:
    _sim, _client, control = start_sim()
    outcome = control.post("unsolicited", {"gemeente": "0599", "kind": "foutrapport"})
    assert (outcome["status"], outcome["berichtcode"]) == ("bv03", "Di01")
    (received,) = receiver.received
    assert received.headers["SOAPAction"] == f'"{SOAP_ACTION_DI01}"'
    di01 = message_of(received)
    assert di01.tag == DI01_TAG
    assert schema.validate(di01), schema.error_log
    assert text(di01, "GGK:stuurgegevens/StUF:crossRefnummer") is None
    assert text(di01, "GGK:stuurgegevens/StUF:ontvanger/StUF:organisatie") == "0599"
    assert text(di01, "GGK:stuurgegevens/StUF:functie") == "MSDFOUTRAPPORT"
    assert pdf_of(di01).startswith(b"%PDF")


def test_control_refuses_bad_requests(start_sim: StartSim, receiver: PortalReceiver) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)
    control.post("report", {"referentienummer": ref, "kind": "bijna"}, expect=400)
    control.post("report", {"kind": "op_orde"}, expect=400)
    control.post("report", {"referentienummer": "../../etc", "kind": "op_orde"}, expect=404)
    unknown = "6f1c2a57-1a0e-4d7e-9d59-3c7f1f0a2b11"
    control.post("report", {"referentienummer": unknown}, expect=404)
    control.post("unsolicited", {"gemeente": "Amsterdam"}, expect=400)
    control.post("unsolicited", {"gemeente": "0363\n"}, expect=400)
    control.post("unsolicited", {"kind": "op_orde"}, expect=400)
    control.post("auto-report", {"mode": "soms"}, expect=400)
    assert receiver.received == []


def test_reports_need_a_portal_url(simulator: Simulator, client: SoapClient) -> None:
    control = ControlClient(simulator.control_url)
    ref = deliver(client)
    error = control.post("report", {"referentienummer": ref}, expect=400)
    assert "portal_url" in error["error"]


# ============================================================ answers and retrying


def test_fo03_is_a_final_answer(start_sim: StartSim, receiver: PortalReceiver) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)
    receiver.queue(Canned("fo03", code="StUF010"))
    outcome = control.post("report", {"referentienummer": ref, "kind": "foutrapport"})
    assert outcome["status"] == "fo03"
    assert (outcome["answer"]["code"], outcome["answer"]["plek"]) == ("StUF010", "client")
    assert outcome["http_status"] == 500
    assert outcome["attempts"] == 1
    assert len(receiver.received) == 1
    assert control.get(f"messages/{ref}")["reports"][0]["code"] == "StUF010"


def test_5xx_without_fo03_and_dropped_connections_are_retried(
    start_sim: StartSim, receiver: PortalReceiver
) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)
    receiver.queue(Canned("http503"), Canned("drop"))
    outcome = control.post("report", {"referentienummer": ref})
    assert (outcome["status"], outcome["attempts"]) == ("bv03", 3)
    bodies = {r.body for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(bodies) == 1  # the same message resent, so the portal can deduplicate


def test_4xx_is_not_retried(start_sim: StartSim, receiver: PortalReceiver) -> None:
    _sim, client, control = start_sim()
    ref = deliver(client)
    receiver.queue(Canned("http403"))
    outcome = control.post("report", {"referentienummer": ref}, expect=502)
    assert (outcome["status"], outcome["attempts"], outcome["http_status"]) == ("failed", 1, 403)


def test_portal_down_is_retried_then_logged_and_the_simulator_carries_on(
    start_sim: StartSim,
) -> None:
    sim, client, control = start_sim(
        portal_url=closed_port_url(), auto_report="op_orde", auto_report_delay_seconds=0
    )
    ref = deliver(client)
    meta = wait_until(
        lambda: (
            (m := control.get(f"messages/{ref}")).get("auto_report", {}).get("status") == "failed"
            and m
        ),
        message="auto-report to fail",
    )
    assert meta["reports"][0]["status"] == "failed"
    outcome = control.post("report", {"referentienummer": ref}, expect=502)
    assert outcome["status"] == "failed"
    assert outcome["attempts"] == sim.config.report_max_attempts
    assert "verbindingsfout" in outcome["error"]
    # Still receiving deliveries, scheduling their reports and answering control calls.
    second = deliver(client)
    wait_until(
        lambda: control.get(f"messages/{second}").get("auto_report", {}).get("status") == "failed",
        message="the second auto-report to fail",
    )
    status = control.get("status")
    assert status["messages"]["stored"] == 2
    assert status["reports"] == {"total": 3, "failed": 3}


# ====================================================================== auto-report


def test_auto_report_once_per_accepted_delivery_after_the_delay(
    start_sim: StartSim, receiver: PortalReceiver
) -> None:
    delay = 0.3
    _sim, client, control = start_sim(auto_report="op_orde", auto_report_delay_seconds=delay)
    first = build_di01()
    started = time.monotonic()
    assert client.post(first.body).status_code == 200
    wait_until(lambda: receiver.received, message="the first report")
    assert receiver.received[0].at - started >= delay

    # An identical resend gets its Bv03 but no second report; neither does a consent
    # message. Had either been scheduled, it would have arrived before the next one.
    assert client.post(first.body).status_code == 200
    deliver(client, functie="MSDTOESTEMMING")
    second = deliver(client)
    wait_until(lambda: len(receiver.received) >= 2, message="the second report")
    assert cross_refs(receiver) == [first.referentienummer, second]
    functies = {text(message_of(r), "GGK:stuurgegevens/StUF:functie") for r in receiver.received}
    assert functies == {"MSDOPORDE"}
    meta = control.get(f"messages/{first.referentienummer}")
    assert meta["auto_report"]["status"] == "bv03"
    assert meta["auto_report"]["kind"] == "op_orde"
    wait_until(lambda: control.get("reports")["auto_report"]["pending"] == 0)
    assert len(receiver.received) == 2


def test_alternate_mode_switched_on_through_the_control_api(
    start_sim: StartSim, receiver: PortalReceiver
) -> None:
    _sim, client, control = start_sim()
    settings = control.post("auto-report", {"mode": "alternate", "delay_seconds": 0})
    assert settings == {"mode": "alternate", "delay_seconds": 0.0, "pending": 0}
    refs = [deliver(client) for _ in range(3)]
    wait_until(lambda: len(receiver.received) >= 3, message="three reports")
    by_ref = {
        text(message_of(r), "GGK:stuurgegevens/StUF:crossRefnummer"): text(
            message_of(r), "GGK:stuurgegevens/StUF:functie"
        )
        for r in receiver.received
    }
    assert [by_ref[ref] for ref in refs] == ["MSDFOUTRAPPORT", "MSDOPORDE", "MSDFOUTRAPPORT"]


def test_grote_berichten_delivery_is_reported_after_the_download(
    start_sim: StartSim, receiver: PortalReceiver, certs: DevCerts
) -> None:
    content = os.urandom(64 * 1024)
    name = "MSD_WMO-BASIS_0363_2026HJ01.csv"
    files = RangeFileServer(certs, FileSpec(content)).start()
    try:
        _sim, client, control = start_sim(auto_report="foutrapport", auto_report_delay_seconds=0)
        metadata = gb_metadata(
            filename=name,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            sender_url=files.url,
        )
        ref = deliver(client, payload=metadata, content_type="application/xml", bestandsnaam=name)
        wait_until(lambda: receiver.received, message="the report")
    finally:
        files.stop()
    meta = control.get(f"messages/{ref}")
    assert meta["complete"] is True
    assert meta["auto_report"]["scheduled_at"] >= meta["gb"]["completed_at"]
    (received,) = receiver.received
    du01 = message_of(received)
    assert text(du01, "GGK:stuurgegevens/StUF:crossRefnummer") == ref
    assert text(du01, "GGK:stuurgegevens/StUF:functie") == "MSDFOUTRAPPORT"
    assert name.encode() in pdf_of(du01)


# ============================================================================ config


def test_cli_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINIS_SIM_PORTAL_URL", "https://127.0.0.1:9001/rinis/ggk/")
    monkeypatch.setenv("RINIS_SIM_AUTO_REPORT", "alternate")
    monkeypatch.setenv("RINIS_SIM_AUTO_REPORT_DELAY", "1.5")
    config = config_from_args(build_parser().parse_args(["serve"]))
    assert config.portal_url == "https://127.0.0.1:9001/rinis/ggk/"
    assert (config.auto_report, config.auto_report_delay_seconds) == ("alternate", 1.5)
    assert config.report_cert_pair == (
        str(Path("var/certs/rinis-client.pem")),
        str(Path("var/certs/rinis-client-key.pem")),
    )
    assert config.report_verify == str(Path("var/certs/ca.pem"))
    config = config_from_args(
        build_parser().parse_args(
            ["serve", "--auto-report", "off", "--report-ca", "/x/ca.pem", "--portal-url", ""]
        )
    )
    assert (config.auto_report, config.report_verify, config.portal_url) == (
        "off",
        "/x/ca.pem",
        None,
    )
    config.check()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auto_report": "soms"}, "auto_report"),
        ({"portal_url": "http://127.0.0.1:8000/rinis/ggk/"}, "https"),
        ({"portal_url": None, "auto_report": "op_orde"}, "portal_url"),
        ({"auto_report_delay_seconds": -1}, "negatief"),
    ],
)
def test_config_refuses(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SimulatorConfig(), **overrides).check()


def test_scheduled_report_survives_a_restart(start_sim: StartSim, receiver: PortalReceiver) -> None:
    sim, client, control = start_sim(auto_report="op_orde", auto_report_delay_seconds=3600)
    ref = deliver(client)
    assert control.get(f"messages/{ref}")["auto_report"]["status"] == "scheduled"
    sim.stop()
    assert receiver.received == []
    _sim, _client, control = start_sim(auto_report="op_orde", auto_report_delay_seconds=0)
    wait_until(lambda: receiver.received, message="the resumed report")
    assert cross_refs(receiver) == [ref]
    wait_until(lambda: control.get(f"messages/{ref}")["auto_report"]["status"] == "bv03")
