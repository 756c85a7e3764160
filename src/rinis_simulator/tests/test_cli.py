"""``python -m rinis_simulator serve`` as ``make run`` starts it: fast up, clean down."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from rinis_simulator.devcerts import DevCerts

from .conftest import SoapClient, stuf_xsd
from .messages import build_di01

SRC = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"soap=(\S+) control=(\S+)")


def test_serve_starts_fast_answers_and_stops_on_sigterm(certs: DevCerts, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "RINIS_SIM_PORT": "0",
        "RINIS_SIM_CONTROL_PORT": "0",
        "RINIS_SIM_CERTS_DIR": str(certs.directory),
        "RINIS_SIM_STORAGE": str(tmp_path / "opslag"),
        "RINIS_SIM_XSD": str(stuf_xsd()),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "rinis_simulator", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True
    ).start()
    try:
        ready = lines.get(timeout=10)
        startup = time.monotonic() - started
        match = READY_RE.search(ready)
        assert match, ready
        soap_url, control_url = match.groups()
        # < 1 s on a developer machine; generous here because CI machines are shared.
        assert startup < 5, f"startup took {startup:.2f}s"

        client = SoapClient(soap_url, certs.portal_client.as_tuple(), str(certs.ca_cert))
        message = build_di01()
        assert client.post(message.body).status_code == 200
        status = requests.get(f"{control_url}/status", timeout=5).json()
        assert status["messages"]["stored"] == 1
        assert (tmp_path / "opslag" / message.referentienummer / "envelope.xml").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert returncode == 0, stderr
    assert f"ref={message.referentienummer}" in stderr  # one log line per message
    assert "-> Bv03" in stderr


def test_invalid_configuration_exits_with_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rinis_simulator", "serve", "--control-host", "0.0.0.0"],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr
