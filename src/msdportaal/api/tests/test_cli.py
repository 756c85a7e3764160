"""msd-aanlever as a user runs it: a subprocess, through the TLS front, with a certificate."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from msdportaal.api.models import TusUpload
from msdportaal.conftest import wait_for
from msdportaal.consent.tests.factories import CURRENT, report
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import csv_bytes, random_bytes

from .conftest import register

SRC = Path(__file__).resolve().parents[3]


@pytest.fixture
def cli(rinis_facing: str, dev_certs: Any, municipality_a: Any, tmp_path: Path):
    register(dev_certs.gemeente_system.cert, "Gemeente A systeem", municipality_a)
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MSD_AANLEVER_URL": rinis_facing,
        "MSD_AANLEVER_CERT": str(dev_certs.gemeente_system.cert),
        "MSD_AANLEVER_KEY": str(dev_certs.gemeente_system.key),
        "MSD_AANLEVER_CA": str(dev_certs.ca_cert),
        "MSD_AANLEVER_STATE_DIR": str(tmp_path / "state"),
    }

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "msd_aanlever", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    run.env = env  # type: ignore[attr-defined]
    return run


def test_send_prints_each_reference_and_status_follows_it(cli, tmp_path: Path):
    files = []
    for name in ("BASIS", "KOSTEN"):
        path = tmp_path / f"MSD_WMO-{name}_0363_{CURRENT}.csv"
        path.write_bytes(csv_bytes(1000))
        files.append(path)
    result = cli("send", *map(str, files))
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [name for _ref, name in lines] == [f.name for f in files]
    for (reference, _name), path in zip(lines, files, strict=True):
        delivery = Delivery.objects.get(reference=reference)
        assert delivery.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    status = cli("status", lines[0][0])
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{lines[0][0]}\t{files[0].name}\tontvangen")
    expected = cli("expected")
    assert expected.returncode == 0, expected.stderr
    assert f"aangeleverd ({lines[0][0]}, ontvangen)" in expected.stdout


def test_a_refused_file_exits_1_with_the_dutch_reason(cli, tmp_path: Path):
    wrong = tmp_path / f"MSD_WMO-BASIS_0344_{CURRENT}.csv"  # another gemeente's code
    wrong.write_bytes(csv_bytes())
    result = cli("send", str(wrong))
    assert result.returncode == 1
    assert "is voor gemeentecode 0344" in result.stderr
    assert Delivery.objects.count() == 0


def test_exit_codes_for_access_not_found_usage_and_an_unreachable_portal(cli, dev_certs):
    unknown = cli(
        "expected",
        MSD_AANLEVER_CERT=str(dev_certs.supplier_system.cert),
        MSD_AANLEVER_KEY=str(dev_certs.supplier_system.key),
    )
    assert unknown.returncode == 3
    assert "niet geregistreerd" in unknown.stderr
    assert cli("status", "MSD-2026-999999").returncode == 5
    assert cli("send", "/bestaat/niet.csv").returncode == 2
    down = cli("expected", MSD_AANLEVER_URL="https://127.0.0.1:9")
    assert down.returncode == 4
    assert "niet bereikbaar" in down.stderr


def test_reports_download_byte_identical_and_not_twice(cli, municipality_a, tmp_path: Path):
    cbs = report(municipality_a, CURRENT, file_name="rapport-0363.pdf")
    target = tmp_path / "rapporten"
    first = cli("reports", "--download", str(target))
    assert first.returncode == 0, first.stderr
    downloaded = target / "rapport-0363.pdf"
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == cbs.sha256
    again = cli("reports", "--download", str(target))
    assert "(al aanwezig)" in again.stdout


def test_an_interrupted_send_resumes_where_it_stopped(cli, tmp_path: Path):
    path = tmp_path / f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv"
    path.write_bytes(
        csv_bytes(10) + random_bytes(24 * 1024 * 1024).hex().encode()[: 24 * 1024 * 1024]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "msd_aanlever", "send", str(path)],
        env={**cli.env, "MSD_AANLEVER_CHUNK_MB": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: TusUpload.objects.filter(offset__gt=0).exists(), what="a first part stored"
        )
    finally:
        process.send_signal(signal.SIGKILL)  # the machine goes down mid-upload
        process.wait(timeout=30)
    kept = TusUpload.objects.get().offset
    assert 0 < kept < path.stat().st_size
    result = cli("send", str(path))
    assert result.returncode == 0, result.stderr
    (reference,) = [line.split("\t")[0] for line in result.stdout.splitlines()]
    delivery = Delivery.objects.get(reference=reference)
    assert delivery.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert TusUpload.objects.count() == 1  # resumed, not started again
