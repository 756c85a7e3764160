"""The production-like stack that bench/forward and bench/deadline run against.

Everything lives in one temporary directory and talks on 127.0.0.1 only:

- dev certificates (``python -m rinis_simulator.devcerts``),
- a PostgreSQL database of its own (created here, dropped at the end),
- the portal under gunicorn with production settings (MSD_ENVIRONMENT=production,
  DEBUG off, manifest static files, Redis broker), municipal users with ready-made
  sessions (the development login is refused under production settings, so sessions
  are created directly in the database, as bench/upload does),
- Celery worker(s) and beat, the RINIS/CBS simulator and tls_front (the dev stand-in for
  nginx mutual TLS) in front of gunicorn, through which the simulator pulls Grote
  Berichten.

Every process runs in its own session (process group); :class:`Stack` stops them all,
drops the database and removes the directory, also on Ctrl-C or an exception.
Not part of the test suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = sys.executable
HOST = "127.0.0.1"
MB = 1_000_000
MIB = 1024 * 1024
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The bench's own database connections (polling), left out of the portal's figures.
BENCH_APPLICATION_NAME = "msd-bench"
MUNICIPAL_BACKEND = "msdportaal.organisations.backends.MunicipalIdentityBackend"
CHECK_PAGE = re.compile(r"^(https?://[^/]+)?/aanleveren/[0-9a-f-]{36}/controleren/$")
CONFIRMATION_PAGE = re.compile(r"^(https?://[^/]+)?/aanleveren/[0-9a-f-]{36}/bevestiging/$")
REFERENCE = re.compile(r"\b(\d{8}-\d{6}-\d{3})\b")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def migrate_args() -> list[str]:
    """``--no-input``, and ``--skip-checks`` on an interpreter without the zipfile fix.

    Such a Python (CVE-2025-8291) fails the production system check msdportaal.E010 in
    ``migrate``. The benches measure on this machine's interpreter all the same (gunicorn
    and Celery run no blocking checks), so migrate skips the checks then.
    """
    sys.path.insert(0, str(REPO / "src"))
    try:
        from msdportaal.deliveries.checks import zipfile_is_fixed
    finally:
        sys.path.pop(0)
    if zipfile_is_fixed(tuple(sys.version_info[:3])):
        return ["--no-input"]
    log(f"note: Python {platform.python_version()} lacks the zipfile fix (msdportaal.E010)")
    return ["--no-input", "--skip-checks"]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_venv() -> None:
    """Re-runs the script with the project's venv Python when started with another one
    (``bench/NAME`` from a shell picks the system python3); stops with a clear message
    when there is no venv."""
    if Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        return
    if not VENV_PYTHON.exists():
        raise SystemExit(
            f"{REPO / '.venv'} does not exist: run `make venv` first (the benches need the "
            "project's dependencies), or start the bench with `make bench-...`."
        )
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP: stop and clean up."""


def install_signal_handlers() -> None:
    # SIGINT set explicitly: a shell starts background jobs with it ignored.
    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(f"signal {signal.Signals(signum).name}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- /proc ---------------------------------------------------------------------------------


def status_bytes(pid: int, key: str) -> int:
    """A memory figure from /proc/<pid>/status (VmRSS, VmHWM) in bytes; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> bool:
    """Sets VmHWM (the kernel's peak RSS) back to the current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def children(pid: int) -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    return sorted(set(pids))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU time used on this machine, over all CPUs, plus steal (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_description() -> list[str]:
    """nproc, memory, CPU model, disk, versions: for the report."""

    def out(args: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
            return done.stdout.strip()
        return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = out(["free", "-h"]).splitlines()
    versions = out(
        [
            PYTHON,
            "-c",
            "import celery, django, gunicorn, psycopg, redis; "
            "print(f'Django {django.__version__}, gunicorn {gunicorn.__version__}, "
            "Celery {celery.__version__}, psycopg {psycopg.__version__}, "
            "redis-py {redis.__version__}')",
        ]
    )
    pg = out(["psql", "-h", HOST, "-U", "postgres", "-tAc", "show server_version"])
    redis_server = out(["redis-cli", "-h", HOST, "info", "server"])
    redis_version = next(
        (
            line.split(":", 1)[1]
            for line in redis_server.splitlines()
            if line.startswith("redis_version:")
        ),
        "?",
    )
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"CPU: {os.cpu_count()} x {cpu} (nproc {out(['nproc'])}); kernel {platform.release()}",
        f"memory: {mem[1].split()[1] if len(mem) > 1 else '?'} total",
        "disk: " + " | ".join(out(["df", "-h", "--output=source,size,avail", "/tmp"]).split("\n")),
        f"Python {platform.python_version()}; {versions}",
        f"PostgreSQL {pg.strip()}; Redis {redis_version.strip()}",
        f"load average at start: {load_average()}",
    ]


# --- processes -----------------------------------------------------------------------------


class Proc:
    """One subprocess in its own process group, output to a log file; stop() cleans up."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        cwd: Path,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.log_file = log_path.open("wb")
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stopped = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} ended ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: no {what} within {timeout:.0f} s:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        # Whatever is left of this process group (a pool child, a stuck worker) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.log_file.close()


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"failed ({done.returncode}): {' '.join(args[:4])} ...")
    return done.stdout


def tcp_open(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1):
        return True


# --- HTTP client -----------------------------------------------------------------------------


class HttpError(Exception):
    pass


class Browser:
    """A tiny browser for one session: keeps cookies, GETs pages, POSTs forms and streams
    files as multipart bodies of known length (no chunked encoding)."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies = dict(cookies or {})
        self.lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "msdportaal-bench/1"}
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _remember(self, response: http.client.HTTPResponse) -> None:
        for value in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            with self.lock:
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> tuple[int, str, str]:
        """(status, Location, body text)."""
        all_headers = self._headers()
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout, blocksize=256 * 1024)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            self._remember(response)
            return response.status, response.headers.get("Location", ""), text
        finally:
            conn.close()

    def get(self, path: str, timeout: float = 120) -> tuple[int, str, str]:
        return self.request("GET", path, timeout=timeout)

    def csrf_token(self, page: str) -> str:
        match = CSRF_FIELD.search(page)
        if match is None or "csrftoken" not in self.cookies:
            raise HttpError("no CSRF cookie or form token on the page")
        return match.group(1)

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        from urllib.parse import urlencode

        return self.request(
            "POST",
            path,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def post_file(
        self,
        path: str,
        fields: dict[str, str],
        file_field: str,
        file_name: str,
        size: int,
        chunks: Iterable[bytes],
        timeout: float = 600,
    ) -> tuple[int, str, str]:
        boundary = "----msdbench" + secrets.token_hex(16)
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{file_name}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body() -> Iterator[bytes]:
            yield head
            yield from chunks
            yield tail

        return self.request(
            "POST",
            path,
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            },
            timeout=timeout,
        )

    def upload(
        self, file_name: str, size: int, chunks: Iterable[bytes], token: str | None = None
    ) -> tuple[str, str]:
        """POST /aanleveren/ with one file; returns (check page path, CSRF token)."""
        if token is None:
            status, _loc, page = self.get("/aanleveren/")
            if status != 200:
                raise HttpError(f"GET /aanleveren/ answered {status}")
            token = self.csrf_token(page)
        status, location, text = self.post_file(
            "/aanleveren/", {"csrfmiddlewaretoken": token}, "files", file_name, size, chunks
        )
        if status != 302 or not CHECK_PAGE.match(location):
            excerpt = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))[:300]
            raise HttpError(f"upload {file_name}: HTTP {status} -> {location!r} {excerpt}")
        return _path(location), token

    def confirm(self, check_path: str, token: str) -> str:
        """POST the check page with confirm=1; returns the confirmation page path."""
        status, location, _text = self.post_form(
            check_path, {"csrfmiddlewaretoken": token, "confirm": "1"}
        )
        if status != 302 or not CONFIRMATION_PAGE.match(location):
            raise HttpError(f"confirm {check_path}: HTTP {status} -> {location!r}")
        return _path(location)


def _path(location: str) -> str:
    return re.sub(r"^https?://[^/]+", "", location)


def file_chunks(path: Path, chunk: int = MIB) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(chunk):
            yield block


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    for block in file_chunks(path):
        digest.update(block)
    return digest.hexdigest()


def control_get(control_url: str, path: str, timeout: float = 30) -> dict:
    """GET on the simulator's control API (``path`` like ``/control/status``); {} on 404."""
    base = control_url.rstrip("/").removesuffix("/control")
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise


# --- memory watch ----------------------------------------------------------------------------


@dataclass
class Watched:
    role: str
    pid: int
    peak_sampled: int = 0
    cpu_start: float = 0.0
    cpu_last: float = 0.0  # the last reading while it lived (a backend may go away)
    alive: bool = True


@dataclass
class MemoryWatch:
    """Samples VmRSS of every process of the stack (roles resolve to pids each round)."""

    roles: dict[str, Callable[[], list[int]]]
    interval: float = 0.25
    seen: dict[int, Watched] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for role, pids in self.roles.items():
            for pid in pids():
                watched = self.seen.get(pid)
                if watched is None:
                    cpu = cpu_seconds(pid)
                    watched = self.seen[pid] = Watched(role, pid, cpu_start=cpu, cpu_last=cpu)
                watched.peak_sampled = max(watched.peak_sampled, status_bytes(pid, "VmRSS"))
        for watched in self.seen.values():
            if watched.alive:
                cpu = cpu_seconds(watched.pid)
                if cpu >= watched.cpu_last:
                    watched.cpu_last = cpu
                else:  # gone (0) or the pid was reused
                    watched.alive = False

    def reset_peaks(self) -> None:
        self.sample()
        for pid, watched in self.seen.items():
            reset_peak(pid)
            watched.peak_sampled = status_bytes(pid, "VmRSS")
            watched.cpu_start = watched.cpu_last = cpu_seconds(pid)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self.sample()

    def start(self) -> MemoryWatch:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def peak(self, pid: int) -> int:
        """VmHWM since the last reset (exact), or the sampled peak if higher / gone."""
        watched = self.seen.get(pid)
        sampled = watched.peak_sampled if watched else 0
        return max(status_bytes(pid, "VmHWM"), sampled)

    def rows(self) -> list[tuple[str, int, int, int, float]]:
        """(role, pid, current RSS, peak, CPU seconds since start/reset) per process seen."""
        self.sample()
        return [
            (
                w.role,
                w.pid,
                status_bytes(w.pid, "VmRSS") if w.alive else 0,
                self.peak(w.pid) if w.alive else w.peak_sampled,
                max(0.0, w.cpu_last - w.cpu_start),
            )
            for w in sorted(self.seen.values(), key=lambda w: (w.role, w.pid))
        ]


# --- the stack -------------------------------------------------------------------------------


SETUP_CODE = """
import json
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import transaction
from django.utils import timezone

from msdportaal.organisations.models import Municipality, User
from msdportaal.organisations.session import LoginGrant, start_login_session
from msdportaal.periods.services import open_half_years
from msdportaal.transport.models import TransportConfiguration, TrustedClient
from rinis_simulator.devcerts import RINIS_OIN

codes = json.loads(%(codes)r)
sessions_per_user = %(sessions)d
store = import_module(settings.SESSION_ENGINE).SessionStore
municipalities = {m.code: m for m in Municipality.objects.filter(code__in=codes)}
if not codes:
    codes = sorted(m.code for m in Municipality.objects.all())
    municipalities = {m.code: m for m in Municipality.objects.all()}
out = {}
with transaction.atomic():
    TrustedClient.objects.get_or_create(
        oin=RINIS_OIN, defaults={"name": "RINIS (simulator)", "purposes": "gb,inbound"}
    )
    for code in codes:
        municipality = municipalities[code]
        user = User.objects.create(
            username=f"bench:gemeente-{code}",
            identity_pseudonym=f"bench-{code}",
            first_name="Bench",
            last_name=code,
            email=f"bench-{code}@example.invalid",
            profile_completed_at=timezone.now(),
        )
        user.set_unusable_password()
        user.save()
        user.municipalities.set([municipality])
        keys = []
        for _ in range(sessions_per_user):
            session = store()
            session[SESSION_KEY] = user._meta.pk.value_to_string(user)
            session[BACKEND_SESSION_KEY] = "%(backend)s"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            start_login_session(
                session, LoginGrant((municipality.pk,), organisation=municipality.name)
            )
            session.create()
            keys.append(session.session_key)
        out[code] = keys
current, previous = open_half_years()
config = TransportConfiguration.get_solo()
print("BENCH_SETUP=" + json.dumps({
    "sessions": out,
    "current_period": current.code,
    "gb_threshold_bytes": config.gb_threshold_bytes,
}))
"""

THRESHOLD_CODE = """
from msdportaal.transport.models import TransportConfiguration

config = TransportConfiguration.get_solo()
config.gb_threshold_bytes = %(threshold)d
config.save()
print("BENCH_THRESHOLD=%%d" %% TransportConfiguration.get_solo().gb_threshold_bytes)
"""


class Stack:
    """Temp dir, database and processes; use as a context manager (cleans up on exit)."""

    def __init__(self, name: str, tmpdir: str | None = None, keep: bool = False) -> None:
        self.name = name
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix=f"msd-bench-{name}-", dir=tmpdir))
        self.var = self.tmp / "var"
        self.certs = self.tmp / "certs"
        self.sim_storage = self.tmp / "simulator"
        self.logs = self.tmp / "logs"
        self.raw_dir = self.tmp / "raw-sink"
        for d in (self.var, self.logs):
            d.mkdir()
        self.db_name = f"msd_bench_{name}_{os.getpid()}"
        self.db_created = False
        self.procs: list[Proc] = []
        self.env: dict[str, str] = {}
        self.soap_url = ""
        self.control_url = ""
        self.portal_port = 0
        self.tls_port = 0
        self.proxy_secret = secrets.token_urlsafe(32)
        self.sim_port = 0
        self.gunicorn: Proc | None = None
        self.worker: Proc | None = None
        self.simulator: Proc | None = None
        self.tls_front: Proc | None = None
        self.beat: Proc | None = None
        #: Called first when the stack closes (e.g. to stop client threads quietly).
        self.before_close: list[Callable[[], None]] = []

    # context manager
    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        failed = exc_type is not None and exc_type is not Interrupted
        self.close(show_logs=failed)

    def close(self, show_logs: bool = False) -> None:
        for callback in self.before_close:
            with contextlib.suppress(Exception):
                callback()
        # Stop the producers of work first (gunicorn, beat), then the workers.
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
            if show_logs:
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"--- last lines of {proc.name} ---\n{proc.tail(30)}\n")
        self.procs.clear()
        if self.db_created:
            with contextlib.suppress(Exception):
                drop_database(self.db_name)
            self.db_created = False
        if self.env.get("CELERY_BROKER_URL", "").startswith("redis://"):
            with contextlib.suppress(Exception):
                clear_redis_queue(self.env["CELERY_BROKER_URL"])
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # set-up
    def prepare(self, broker_url: str, extra_env: dict[str, str] | None = None) -> None:
        """Certificates, database, environment, migrate and collectstatic."""
        run([PYTHON, "-m", "rinis_simulator.devcerts", str(self.certs)], self._plain_env(), REPO)
        create_database(self.db_name)
        self.db_created = True
        self.portal_port = free_port()
        self.tls_port = free_port()
        self.sim_port = free_port()
        self.env = self._plain_env()
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "msdportaal.conf.settings",
                "MSD_VAR_DIR": str(self.var),
                "MSD_ENVIRONMENT": "production",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "bench-" + secrets.token_hex(16),
                "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
                "MSD_SECURE_COOKIES": "false",
                "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{self.db_name}",
                "DATABASE_CONN_MAX_AGE": "60",
                "CELERY_BROKER_URL": broker_url,
                "MSD_RINIS_URL": f"https://{HOST}:{self.sim_port}/rinis/ggk",
                "MSD_RINIS_CLIENT_CERT": str(self.certs / "portal-client.pem"),
                "MSD_RINIS_CLIENT_KEY": str(self.certs / "portal-client-key.pem"),
                "MSD_RINIS_CA_BUNDLE": str(self.certs / "ca.pem"),
                "MSD_RINIS_FACING_URL": f"https://{HOST}:{self.tls_port}",
                # tls_front passes the verified client certificate in headers, like nginx.
                "MSD_TRUST_CLIENT_CERT_HEADERS": "true",
                # ...and only with the secret tls_front adds (no other local process has it).
                "MSD_PROXY_SECRET": self.proxy_secret,
                "MSD_PUBLIC_URL": f"http://{HOST}:{self.portal_port}",
            }
        )
        self.env.update(extra_env or {})
        run([PYTHON, str(REPO / "manage.py"), "migrate", *migrate_args()], self.env, self.tmp)
        run([PYTHON, str(REPO / "manage.py"), "collectstatic", "--no-input"], self.env, self.tmp)

    def _plain_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MSD_", "DJANGO_", "DATABASE_", "CELERY_", "EMAIL_", "RINIS_"))
        }
        env["PYTHONPATH"] = str(REPO / "src")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def shell(self, code: str, timeout: float = 600) -> str:
        return run(
            [PYTHON, str(REPO / "manage.py"), "shell", "--no-imports", "-c", code],
            self.env,
            self.tmp,
            timeout=timeout,
        )

    def setup_users(self, codes: list[str], sessions_per_user: int = 1) -> dict:
        """A user with a completed profile and ready sessions per gemeente; RINIS trusted."""
        out = self.shell(
            SETUP_CODE
            % {
                "codes": json.dumps(codes),
                "sessions": sessions_per_user,
                "backend": MUNICIPAL_BACKEND,
            }
        )
        match = re.search(r"^BENCH_SETUP=(.*)$", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no result from the set-up step:\n{out[-2000:]}")
        return json.loads(match.group(1))

    def set_gb_threshold(self, threshold: int) -> int:
        out = self.shell(THRESHOLD_CODE % {"threshold": threshold})
        match = re.search(r"BENCH_THRESHOLD=(\d+)", out)
        if match is None:
            raise RuntimeError(f"could not set the GB threshold:\n{out[-2000:]}")
        return int(match.group(1))

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, args, env or self.env, self.logs / f"{name}.log", self.tmp)
        self.procs.append(proc)
        return proc

    # processes
    def start_simulator(self, max_body_bytes: int | None = None) -> None:
        args = [
            PYTHON,
            "-m",
            "rinis_simulator",
            "serve",
            "--port",
            str(self.sim_port),
            "--control-port",
            "0",
            "--certs-dir",
            str(self.certs),
            "--no-generate-certs",
            "--storage",
            str(self.sim_storage),
            "--portal-url",
            "",
            "--auto-report",
            "off",
            "--log-level",
            "WARNING",
        ]
        if max_body_bytes:
            args += ["--max-body-bytes", str(max_body_bytes)]
        self.simulator = self._start("simulator", args, self._plain_env())
        pattern = re.compile(r"soap=(\S+) control=(\S+)")

        def ready() -> bool:
            match = pattern.search(self.simulator.log_text())  # type: ignore[union-attr]
            if match:
                self.soap_url, self.control_url = match.groups()
            return bool(match)

        self.simulator.wait_for("ready line", ready)

    def start_gunicorn(self, workers: int, threads: int, timeout: int = 300) -> None:
        args = gunicorn_args("msdportaal.wsgi:application", self.portal_port, workers, threads)
        self.gunicorn = self._start("gunicorn", [*args, "--timeout", str(timeout)])
        probe = Browser(self.portal_port)

        def ready() -> bool:
            status, _loc, _body = probe.get("/gezond/", timeout=10)
            return status == 200 and len(children(self.gunicorn.pid)) == workers  # type: ignore[union-attr]

        self.gunicorn.wait_for("answer on /gezond/", ready, timeout=120)

    def start_raw_sink(self, workers: int, threads: int, timeout: int = 300) -> tuple[Proc, int]:
        """bench/raw_wsgi.py (read the body, write it to disk, 200) under the same gunicorn
        settings as the portal, on a port of its own; returns (process, port). Its files
        go to ``self.raw_dir``."""
        port = free_port()
        self.raw_dir.mkdir(exist_ok=True)
        env = {
            **self._plain_env(),
            "PYTHONPATH": str(REPO / "bench"),
            "RAW_WSGI_TMP_DIR": str(self.raw_dir),
        }
        args = gunicorn_args("raw_wsgi:application", port, workers, threads)
        proc = self._start("raw_wsgi", [*args, "--timeout", str(timeout)], env)
        probe = Browser(port)

        def ready() -> bool:
            status, _loc, _body = probe.get("/", timeout=10)
            return status == 200 and len(children(proc.pid)) == workers

        proc.wait_for("answer on /", ready, timeout=60)
        return proc, port

    def start_tls_front(self) -> None:
        args = [PYTHON, "-m", "tls_front", "--listen", f"{HOST}:{self.tls_port}"]
        args += ["--upstream", f"{HOST}:{self.portal_port}"]
        args += ["--cert", str(self.certs / "portal-server.pem")]
        args += ["--key", str(self.certs / "portal-server-key.pem")]
        args += ["--ca", str(self.certs / "ca.pem"), "--log-level", "WARNING"]
        env = {**self._plain_env(), "MSD_PROXY_SECRET": self.proxy_secret}
        self.tls_front = self._start("tls_front", args, env)
        self.tls_front.wait_for("listening port", lambda: tcp_open(self.tls_port))

    def start_worker(
        self, concurrency: int, name: str = "worker", queues: str = "celery,rinis"
    ) -> Proc:
        """A prefork worker; by default one worker for both queues (the default queue and
        the RINIS sends), so the benches measure one pool as before the split."""
        args = [PYTHON, "-m", "celery", "-A", "msdportaal", "worker", "--pool", "prefork"]
        args += ["--concurrency", str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h"]
        args += ["--queues", queues]
        args += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        proc = self._start(name, args)
        if self.worker is None:
            self.worker = proc
        proc.wait_for(
            "ready worker",
            lambda: len(children(proc.pid)) == concurrency and "ready" in proc.log_text(),
            timeout=120,
        )
        return proc

    def start_beat(self) -> None:
        args = [PYTHON, "-m", "celery", "-A", "msdportaal", "beat", "--loglevel", "INFO"]
        args += ["--schedule", str(self.var / "celerybeat-schedule")]
        self.beat = self._start("beat", args)
        self.beat.wait_for("start", lambda: "beat" in self.beat.log_text().lower(), timeout=90)  # type: ignore[union-attr]

    def roles(self) -> dict[str, Callable[[], list[int]]]:
        """Process roles for :class:`MemoryWatch`: pool children and workers looked up live."""

        def own(proc: Proc) -> Callable[[], list[int]]:
            return lambda: [proc.pid] if proc.alive() else []

        def kids(proc: Proc) -> Callable[[], list[int]]:
            return lambda: children(proc.pid)

        roles: dict[str, Callable[[], list[int]]] = {}
        if self.gunicorn:
            roles["gunicorn master"] = own(self.gunicorn)
            roles["gunicorn worker"] = kids(self.gunicorn)
        for proc in self.procs:
            if proc.name.startswith("worker"):
                roles[f"celery {proc.name} main"] = own(proc)
                roles[f"celery {proc.name} child"] = kids(proc)
        if self.beat:
            roles["celery beat"] = own(self.beat)
        if self.simulator:
            roles["simulator"] = own(self.simulator)
        if self.tls_front:
            roles["tls_front"] = own(self.tls_front)
        return roles

    def check_alive(self) -> None:
        for proc in self.procs:
            if not proc.stopped and not proc.alive():
                raise RuntimeError(f"{proc.name} died ({proc.proc.returncode}):\n{proc.tail()}")


def gunicorn_args(app: str, port: int, workers: int, threads: int) -> list[str]:
    """gunicorn as production runs it (docs/operations.md), for the portal and the sink."""
    args = [PYTHON, "-m", "gunicorn", app, "--bind", f"{HOST}:{port}"]
    args += ["--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)]
    # No control socket: its default path (~/.gunicorn/gunicorn.ctl) is one for every
    # gunicorn on the machine, and the benches do not use it.
    return [*args, "--graceful-timeout", "10", "--keep-alive", "75", "--no-control-socket"]


# --- cleaning up as the run goes ------------------------------------------------------------


class Janitor:
    """Keeps the disk at about the bytes in flight, not twice everything that was sent.

    Every few seconds: for each message the simulator has complete (inline stored, or the
    GB pull verified), the simulator's copies (payload, envelope) go, and so does the
    portal's stored file of that delivery. The simulator's meta.json (size and SHA-256 of
    what arrived) stays, so the end-of-run check still compares every file. Files the
    bare sink wrote go once they are ``raw_max_age`` seconds old (late enough that the
    kernel has written them back, as the portal's files are).
    """

    def __init__(self, stack: Stack, every: float = 5.0, raw_max_age: float = 60.0) -> None:
        self.stack = stack
        self.every = every
        self.raw_max_age = raw_max_age
        self.cleaned: set[str] = set()
        self.freed = 0
        self.errors: list[str] = []
        self.disk_start = shutil.disk_usage(stack.tmp).used
        self.disk_peak = self.disk_start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Janitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    @property
    def disk_growth(self) -> int:
        """Most the filesystem's used bytes rose above the start (anything on it counts)."""
        return self.disk_peak - self.disk_start

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sweep()
            except Exception as exc:  # the run goes on; reported at the end
                if len(self.errors) < 5:
                    self.errors.append(f"{type(exc).__name__}: {exc}")

    def _unlink(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            path.unlink()
            self.freed += size

    def sweep(self) -> None:
        self.disk_peak = max(self.disk_peak, shutil.disk_usage(self.stack.tmp).used)
        if self.stack.raw_dir.exists():
            old = time.time() - self.raw_max_age
            for path in self.stack.raw_dir.iterdir():
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < old:
                        self._unlink(path)
        if not self.stack.control_url or not self.stack.db_created:
            return
        # Delivered (Bv03) messages not cleaned yet; for GB the pull may still be running,
        # so the simulator's meta.json decides (asked per message: listing them all would
        # make the simulator read every meta.json each sweep).
        rows = db_query(
            self.stack.db_name,
            "select m.referentienummer, d.stored_name from deliveries_delivery d "
            "join transport_outboundmessage m on m.id = d.outbound_message_id "
            "where m.state = 'delivered'",
        )
        media = self.stack.var / "media"
        for ref, stored_name in rows:
            if ref in self.cleaned or not control_get(
                self.stack.control_url, f"/control/messages/{ref}"
            ).get("complete"):
                continue
            with contextlib.suppress(OSError):
                for path in (self.stack.sim_storage / ref).iterdir():
                    if path.is_file() and path.name != "meta.json":
                        self._unlink(path)
            if stored_name:
                self._unlink(media / stored_name)
            self.cleaned.add(ref)
        self.disk_peak = max(self.disk_peak, shutil.disk_usage(self.stack.tmp).used)


# --- PostgreSQL and Redis --------------------------------------------------------------------


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_query(db_name: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    dsn = f"postgresql://postgres@{HOST}:5432/{db_name}"
    with psycopg.connect(
        dsn, autocommit=True, connect_timeout=10, application_name=BENCH_APPLICATION_NAME
    ) as conn:
        return list(conn.execute(sql, params).fetchall())


class PgBackends:
    """PIDs of the PostgreSQL backends serving one database (looked up every few seconds)."""

    def __init__(self, db_name: str, every: float = 3.0) -> None:
        self.db_name = db_name
        self.every = every
        self.pids: list[int] = []
        self.checked = 0.0

    def __call__(self) -> list[int]:
        if time.monotonic() - self.checked >= self.every:
            self.checked = time.monotonic()
            with contextlib.suppress(Exception):
                self.pids = [
                    int(pid)
                    for (pid,) in db_query(
                        self.db_name,
                        "select pid from pg_stat_activity where datname = current_database() "
                        "and application_name <> %s",
                        (BENCH_APPLICATION_NAME,),
                    )
                ]
        return self.pids


def pids_named(name: str) -> list[int]:
    """PIDs whose /proc/<pid>/comm is ``name`` (e.g. redis-server)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
    return pids


#: The portal's Celery queues: the default one and the RINIS sends (msdportaal.celery).
QUEUES = ("celery", "rinis")


def redis_queue_length(broker_url: str, queues: tuple[str, ...] = QUEUES) -> int:
    import redis

    client = redis.Redis.from_url(broker_url)
    return sum(int(client.llen(queue)) for queue in queues)


def clear_redis_queue(broker_url: str, queues: tuple[str, ...] = QUEUES) -> None:
    """Task messages this bench left in its queues (a sweeper re-trigger after the end).

    Only the queues' own lists: kombu's ``unacked`` bookkeeping is shared with whoever
    else uses the same Redis database.
    """
    import redis

    redis.Redis.from_url(broker_url).delete(*queues)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


#: Process kinds for the peak-RSS summary: the first word(s) of a MemoryWatch role.
KINDS = (
    ("gunicorn master", "gunicorn master"),
    ("gunicorn worker", "gunicorn workers"),
    ("celery worker main", "celery worker (main)"),
    ("celery worker child", "celery worker (pool children)"),
    ("celery beat", "celery beat"),
    ("simulator", "simulator"),
    ("tls_front", "tls_front"),
    ("postgres backend", "postgres backends"),
    ("redis-server", "redis-server"),
    ("bench client", "bench client"),
)


def report_processes(rows: list[tuple[str, int, int, int, float]], per: int, what: str) -> None:
    """Per process: RSS now, peak (VmHWM) and CPU; then the peak per kind, and CPU-ms per
    *what* (e.g. per delivery) per kind."""
    print("processes (MB: RSS at the end, peak = VmHWM since the start; CPU-s):")
    per_role: dict[str, float] = {}
    backends = [r for r in rows if r[0] == "postgres backend"]
    for role, pid, rss, peak, cpu in rows:
        key = role.split()[0]  # gunicorn, celery, postgres, redis-server, ...
        per_role[key] = per_role.get(key, 0.0) + cpu
        if role != "postgres backend":
            print(
                f"  {role:<20} pid {pid:>7}  {rss / MB:7.1f}  peak {peak / MB:7.1f}  cpu {cpu:7.1f}"
            )
    if backends:
        print(
            f"  postgres backends    {len(backends)} connections to the bench database, "
            f"peak RSS {max(r[3] for r in backends) / MB:.1f} MB each at most (shared buffers "
            f"included), cpu {sum(r[4] for r in backends):.1f}"
        )
    peaks = []
    for prefix, label in KINDS:
        mine = [r[3] for r in rows if r[0].startswith(prefix)]
        if mine:
            peaks.append(f"{label} {max(mine) / MB:.0f}")
    print("peak RSS per process kind (MB, the highest process of that kind): " + ", ".join(peaks))
    if per:
        print(
            f"CPU-ms per {what} (gunicorn: page views included; bench = the client): "
            + ", ".join(f"{role} {cpu / per * 1000:.0f}" for role, cpu in sorted(per_role.items()))
        )
    ours = sum(per_role.values())
    print(f"  CPU-s of these processes: {ours:.0f}")
