"""Who holds a message's lease, and whether that process is gone.

A send takes a lease on its message (``services.claim``); the lease names the process
that holds it. When that process dies mid-send (SIGKILL, the OOM killer, a pulled
container), its lease would block the message until it runs out. A worker on the *same
machine* can tell for certain that the holder is gone: same kernel boot and PID
namespace, and no process with that PID and start time. Then the lease ends at once
(``services.expire_dead_leases``), at the next sweep or when a worker starts.

A holder on another machine (or where ``/proc`` is missing) is never judged: its lease
runs out by itself. Judging wrongly would at worst send the same message twice, which
RINIS answers with the same Bv03 (an identical resend), but it is not done.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

PROC = Path("/proc")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of *pid*, or None if there is none."""
    text = _read(PROC / str(pid) / "stat")
    if not text or ")" not in text:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and ")"; field 3 on follows the last ")".
    fields = text.rsplit(")", 1)[1].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


@functools.cache
def _machine() -> tuple[str, str, str]:
    """(host name, kernel boot id, PID namespace) of this process."""
    try:
        namespace = os.readlink(PROC / "self" / "ns" / "pid")
    except OSError:
        namespace = ""
    host = socket.gethostname()[:64].replace("/", "_")
    return host, _read(PROC / "sys" / "kernel" / "random" / "boot_id"), namespace


@functools.cache
def _identity(pid: int) -> str:
    host, boot, namespace = _machine()
    stat = _stat(pid)
    return f"{host}/{boot}/{namespace}/{pid}/{stat[1] if stat else ''}"


def current_holder() -> str:
    """This process as a lease holder: ``host/boot id/pid namespace/pid/start time``.

    Per PID, so a forked pool child is a holder of its own.
    """
    return _identity(os.getpid())


def holder_is_gone(holder: str) -> bool:
    """True only when *holder* ran on this machine (same boot, same PID namespace) and no
    such process exists any more (or only as a zombie)."""
    parts = holder.rsplit("/", 4)
    if len(parts) != 5:
        return False
    _host, boot, namespace, pid, started = parts
    _my_host, my_boot, my_namespace = _machine()
    if not (boot and namespace and started and pid.isdigit()):
        return False
    if (boot, namespace) != (my_boot, my_namespace):
        return False
    stat = _stat(int(pid))
    if stat is None:
        return True
    state, current_start = stat
    return current_start != started or state in ("Z", "X")
