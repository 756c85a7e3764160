"""A web worker killed mid-upload leaves its temporary file; the periodic task removes it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from msdportaal.conftest import wait_for
from msdportaal.deliveries.tasks import remove_orphaned_upload_files

SRC = Path(__file__).resolve().parents[3]
BOUNDARY = "----msd-orphan-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


@pytest.fixture
def gunicorn(tmp_path: Path) -> Any:
    var = tmp_path / "var"
    (var / "upload-tmp").mkdir(parents=True)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "DJANGO_SETTINGS_MODULE": "msdportaal.conf.test_settings",
        "MSD_VAR_DIR": str(var),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "msdportaal.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120", "--preload"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0 and bool(_children(process.pid))

    try:
        wait_for(listening, timeout=60, what="gunicorn listening")
        yield process, port, var / "upload-tmp"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_killed_web_worker_leaves_a_file_the_sweeper_removes(
    gunicorn: Any, settings: Any, fixed_today: Any
) -> None:
    process, port, upload_tmp = gunicorn
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; '
        'filename="MSD_WMO-BASIS_0363_2026HJ01.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    declared = 20 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            (
                "POST /aanleveren/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                # With a CSRF cookie, Django reads the body to look for the token: the file
                # streams into the upload folder before any view runs.
                f"Cookie: csrftoken={'a' * 32}\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
            + head
        )
        chunk = b"a;b;c\r\n" * 20_000
        sent = 0

        def written() -> bool:  # the handler writes per 1 MiB chunk, after creating the file
            return any(p.stat().st_size > 0 for p in upload_tmp.iterdir())

        while not written() and sent < declared // 2:
            sock.sendall(chunk)
            sent += len(chunk)
        wait_for(written, timeout=30, what="a temporary upload file with data in it")
        (worker,) = _children(process.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: worker not in _children(process.pid), timeout=30, what="worker gone")

    (orphan,) = list(upload_tmp.iterdir())
    assert orphan.stat().st_size > 0  # left behind: nothing in the dead request can remove it

    settings.FILE_UPLOAD_TEMP_DIR = str(upload_tmp)
    settings.MSD_UPLOAD_TMP_MAX_IDLE_MINUTES = 60
    in_progress = upload_tmp / "still-being-written.upload"
    in_progress.write_bytes(b"x")
    now = time.time()  # the suite's travelled clock, which the task reads too
    os.utime(orphan, (now, now))
    os.utime(in_progress, (now, now))
    assert remove_orphaned_upload_files() == 0  # too young to be an orphan

    # An hour and a minute later: the dead request's file was left alone all that time,
    # the live upload kept writing.
    fixed_today.shift(61 * 60)
    os.utime(in_progress)
    assert remove_orphaned_upload_files() == 1
    assert sorted(p.name for p in upload_tmp.iterdir()) == ["still-being-written.upload"]
