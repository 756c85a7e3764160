"""Fixtures: dev certificates, a running simulator on ephemeral ports, HTTPS clients.

No Django here: these tests run with ``-p no:django`` and under pytest-django alike.
The simulator is started for real (threads in this process, real sockets, real TLS) so
the tests exercise exactly what the portal will talk to.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from rinis_simulator.config import DEFAULT_GB_XSD, DEFAULT_XSD, SimulatorConfig
from rinis_simulator.devcerts import DevCerts, ensure_dev_certs
from rinis_simulator.server import Simulator
from rinis_simulator.stuf import safe_parser

from .messages import SOAP_HEADERS


def stuf_xsd() -> Path:
    """The schema under test: the project's copy, unless RINIS_SIM_XSD points elsewhere."""
    return Path(os.environ.get("RINIS_SIM_XSD") or DEFAULT_XSD)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition"
) -> Any:
    """Poll *predicate* until it returns something truthy, failing after *timeout*."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        pause.wait(0.02)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """The development PKI, generated once per test session."""
    return ensure_dev_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def foreign_certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """A second, unrelated PKI: its client certificates must be refused."""
    return ensure_dev_certs(tmp_path_factory.mktemp("foreign-certs"))


@pytest.fixture(scope="session")
def schema() -> etree.XMLSchema:
    """The StUF-GGk schema, to check the simulator's own answers."""
    return etree.XMLSchema(etree.parse(str(stuf_xsd()), parser=safe_parser()))


@pytest.fixture
def sim_config(certs: DevCerts, tmp_path: Path) -> SimulatorConfig:
    """Configuration for a simulator on ephemeral ports with fast GB and report retries."""
    return SimulatorConfig(
        port=0,
        control_port=0,
        certs_dir=certs.directory,
        generate_certs=False,
        storage=tmp_path / "storage",
        xsd=stuf_xsd(),
        gb_xsd=DEFAULT_GB_XSD,
        gb_retry_base_seconds=0.05,
        gb_timeout_seconds=10.0,
        # Never the make-run default (a developer's running portal); report tests set it.
        portal_url=None,
        report_max_attempts=3,
        report_retry_base_seconds=0.01,
        report_timeout_seconds=5.0,
    )


@pytest.fixture
def simulator(sim_config: SimulatorConfig) -> Iterator[Simulator]:
    """A running simulator, stopped after the test."""
    sim = Simulator(sim_config).start()
    try:
        yield sim
    finally:
        sim.stop()


@dataclass
class SoapClient:
    """The portal's side of the connection: client certificate + pinned dev CA."""

    url: str
    cert: tuple[str, str] | None
    verify: str

    def post(
        self, body: bytes, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> requests.Response:
        """POST a SOAP request with the standard headers (overridable)."""
        return requests.post(
            self.url,
            data=body,
            headers={**SOAP_HEADERS, **(headers or {})},
            cert=self.cert,
            verify=self.verify,
            timeout=timeout,
        )


@dataclass
class ControlClient:
    """JSON calls to the control interface."""

    base: str

    def get(self, path: str) -> Any:
        """GET ``/control/<path>`` and return the JSON body (asserting 200)."""
        response = requests.get(f"{self.base}/{path}", timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, payload: dict[str, Any] | None = None, expect: int = 200) -> Any:
        """POST JSON to ``/control/<path>``."""
        response = requests.post(f"{self.base}/{path}", json=payload or {}, timeout=5)
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
def client(simulator: Simulator, certs: DevCerts) -> SoapClient:
    """The portal's HTTPS client, with the portal client certificate."""
    return SoapClient(simulator.soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))


@pytest.fixture
def control(simulator: Simulator) -> ControlClient:
    """Control-interface client for the running simulator."""
    return ControlClient(simulator.control_url)
