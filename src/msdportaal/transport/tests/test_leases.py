"""Lease holders: a process on this machine that is gone is recognised as gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from msdportaal.transport import leases

SRC = Path(__file__).resolve().parents[3]


def holder_of_a_process_that_ran() -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from msdportaal.transport import leases; print(leases.current_holder())",
        ],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_this_process_holds_its_leases_alive():
    holder = leases.current_holder()
    assert f"/{os.getpid()}/" in holder
    assert not leases.holder_is_gone(holder)


def test_a_process_that_exited_is_gone():
    holder = holder_of_a_process_that_ran()
    assert holder.count("/") == 4
    assert leases.holder_is_gone(holder)


def test_the_same_pid_started_again_is_another_holder():
    host, boot, namespace, pid, started = leases.current_holder().rsplit("/", 4)
    assert leases.holder_is_gone(f"{host}/{boot}/{namespace}/{pid}/{int(started) + 1}")


def test_a_holder_on_another_machine_or_namespace_is_never_judged():
    host, boot, namespace, _pid, started = holder_of_a_process_that_ran().rsplit("/", 4)
    other_boot = "00000000-0000-0000-0000-000000000000"
    assert not leases.holder_is_gone(f"{host}/{other_boot}/{namespace}/4242/{started}")
    assert not leases.holder_is_gone(f"{host}/{boot}/pid:[1]/4242/{started}")
    assert not leases.holder_is_gone("")  # messages claimed before holders were recorded
    assert not leases.holder_is_gone("somewhere///4242/")  # no /proc where it ran
