"""A small production-like cluster for the cluster test (``test_cluster.py``).

Two nodes, each a gunicorn web process and a Celery worker (prefork) with a ``MSD_VAR_DIR``
of its own, plus one beat (on node 2), sharing the test's PostgreSQL database, Redis and
S3 server (moto). tls_front in front of both web processes plays the load balancer plus
nginx for RINIS (round-robin, a node that refuses is skipped). Everything talks over real
sockets on 127.0.0.1; nothing of the portal runs in the test process except the ORM the test
uses to look at the database.

The processes run the real ``gunicorn`` and ``celery`` entry points under a small bootstrap
that puts them on the test's clock (the suite lives on a fixed day, ``conftest.fixed_today``)
and on the test's own broker queue (``MSD_TEST_CELERY_QUEUE``), as the worker fault tests
do. Each process has its own process group, so a node is killed (SIGKILL, no shutdown) or
stopped (SIGTERM) as a whole.
"""

from __future__ import annotations

import contextlib
import html.parser
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

SRC_DIR = Path(__file__).resolve().parents[3]

#: The real entry points, on the test's clock and queue (``sys.argv[1]`` names which).
NODE_BOOTSTRAP = """\
import os, sys, time
import time_machine
offset = float(os.environ["MSD_TEST_CLOCK_OFFSET"])
time_machine.travel(time.time() + offset, tick=True).start()
from msdportaal.celery import SEND_TASK, app
app.conf.task_default_queue = os.environ["MSD_TEST_CELERY_QUEUE"]
# The sends too: each node's one worker stands in for both of production's queues.
app.conf.task_routes = {SEND_TASK: {"queue": os.environ["MSD_TEST_CELERY_QUEUE"]}}
program, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
if program == "gunicorn":
    from gunicorn.app.wsgiapp import run as main
else:
    from celery.__main__ import main
sys.exit(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """One program in a process group of its own, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", NODE_BOOTSTRAP, *args],
            env=env,
            cwd=SRC_DIR.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.process.pid}>"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def assert_running(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self} exited with {self.process.returncode}:\n{self.tail()}")

    def kill(self) -> None:
        """The node dies: SIGKILL to the whole group, no shutdown, no acknowledgements."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> None:
        """An orderly stop (SIGTERM, as systemd does), then whatever is left is killed."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self) -> None:
        self.terminate(timeout=5)
        self._log.close()


def wait_until[T](
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    processes: list[Process] | tuple[Process, ...] = (),
    interval: float = 0.1,
) -> T:
    """Polls *predicate* until it returns something truthy; fails at the deadline (or as
    soon as one of *processes* died), with the processes' logs."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        with contextlib.suppress(requests.RequestException):  # not listening, or not yet answering
            result = predicate()
            if result:
                return result
        for process in processes:
            process.assert_running()
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {p}:\n{p.tail()}" for p in processes)
            raise AssertionError(f"no {what} within {timeout:g} s{logs}")
        pause.wait(interval)


@dataclass
class Node:
    """One machine: its own MSD_VAR_DIR, a web process and a worker (and maybe beat)."""

    name: str
    var_dir: Path
    env: dict[str, str]
    logs: Path
    web_port: int = field(default_factory=free_port)
    web: Process | None = None
    worker: Process | None = None
    beat: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def processes(self) -> list[Process]:
        return [p for p in (self.web, self.worker, self.beat) if p is not None and p.alive()]

    def start_web(self) -> Process:
        args = ["gunicorn", "msdportaal.wsgi:application", "--bind", f"127.0.0.1:{self.web_port}"]
        args += ["--workers", "1", "--worker-class", "gthread", "--threads", "4"]
        args += ["--timeout", "120", "--graceful-timeout", "5", "--keep-alive", "75"]
        self.web = Process(f"{self.name}-web", args, self.env, self.logs / f"{self.name}-web.log")
        return self.web

    def wait_web(self) -> None:
        assert self.web is not None
        wait_until(
            lambda: requests.get(f"{self.url}/gezond/", timeout=5).status_code == 200,
            timeout=90,
            what=f"{self.name}'s web process answering",
            processes=[self.web],
        )

    def start_worker(self) -> Process:
        args = ["celery", "-A", "msdportaal", "worker", "--pool", "prefork"]
        args += ["--concurrency", "1", "--hostname", f"{self.name}@%h"]
        args += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        args += ["--loglevel", "INFO"]
        log = self.logs / f"{self.name}-worker.log"
        self.worker = Process(f"{self.name}-worker", args, self.env, log)
        return self.worker

    def wait_worker(self) -> None:
        worker = self.worker
        assert worker is not None
        wait_until(
            lambda: re.search(rf"{self.name}@\S+ ready", worker.log()),
            timeout=90,
            what=f"{self.name}'s worker ready",
            processes=[worker],
        )

    def start_beat(self) -> Process:
        schedule = self.var_dir / "celerybeat-schedule"
        args = ["celery", "-A", "msdportaal", "beat", "--schedule", str(schedule)]
        args += ["--loglevel", "INFO"]
        log = self.logs / f"{self.name}-beat.log"
        self.beat = Process(f"{self.name}-beat", args, self.env, log)
        return self.beat

    def wipe(self) -> None:
        """Everything under this node's MSD_VAR_DIR goes, while its processes run."""
        for entry in self.var_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def left_behind(self) -> list[str]:
        """Files in the var dir other than beat's own schedule (its one node-local file)."""
        return sorted(
            str(p.relative_to(self.var_dir))
            for p in self.var_dir.rglob("*")
            if p.is_file() and not p.name.startswith("celerybeat-schedule")
        )

    def close(self) -> None:
        for process in (self.beat, self.worker, self.web):
            if process is not None:
                process.close()


class Browser:
    """A user's browser: a session cookie (the session lives in the database, so it works
    on every node) and the CSRF cookie; each request names the node it goes to."""

    def __init__(self, session_key: str) -> None:
        self.http = requests.Session()
        self.http.cookies.set("sessionid", session_key)

    def get(self, node: Node, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(node.url + path, allow_redirects=False, timeout=60, **kwargs)

    def post(self, node: Node, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        token = self.http.cookies.get("csrftoken")
        assert token, "GET a page with a form first"
        data = {"csrfmiddlewaretoken": token, **(data or {})}
        return self.http.post(
            node.url + path, data=data, allow_redirects=False, timeout=120, **kwargs
        )

    def send(
        self, node: Node, method: str, path: str, headers: dict[str, str], data: bytes = b""
    ) -> requests.Response:
        """Any request, with the CSRF header a page's script sends (the tus uploads)."""
        token = self.http.cookies.get("csrftoken") or ""
        return self.http.request(
            method,
            node.url + path,
            headers={"X-CSRFToken": token, **headers},
            data=data,
            allow_redirects=False,
            timeout=120,
        )


class FormParser(html.parser.HTMLParser):
    """The fields of one ``<form method="post">`` (by ``id``), as a browser sends them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id and not self._done:
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.fields[name] = a.get("value", "on")
            elif kind not in {"submit", "button", "file", "image", "reset"}:
                self.fields[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # A browser drops the newline right after <textarea>.
            self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True


def form_fields(page: str, form_id: str) -> dict[str, str]:
    parser = FormParser(form_id)
    parser.feed(page)
    return parser.fields
