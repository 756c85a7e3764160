"""Real Celery workers for the fault tests.

A worker is ``celery -A msdportaal worker`` in a subprocess of its own process group. It
shares everything that matters with the test: the test database (committed data, so the
tests run with ``transactional_db``), the broker, the media folder, the RINIS/CBS
simulator, the SMTP server and the clock. It is always stopped when the test ends, also
when the test fails; its log is logged then (pytest shows it for a failing test).

The workers take tasks from queues of the tests' own (one for the default queue, one for
the RINIS sends, as ``msdportaal.celery`` routes them), emptied before and after each
test, so a worker never eats a task that another test (or an earlier run against the
same Redis database) left behind. A worker consumes both unless the test says otherwise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine

from msdportaal.conftest import restore_reference_data

SRC_DIR = Path(__file__).resolve().parents[3]
WORKER_QUEUE = "msdportaal-worker-tests"
#: Stands in for ``msdportaal.celery.RINIS_QUEUE`` in the tests.
WORKER_RINIS_QUEUE = "msdportaal-worker-tests-rinis"
logger = logging.getLogger(__name__)

#: ``celery``, on the test's clock and the test's queues. The suite lives on a fixed day
#: (``fixed_today``) and the outbox compares moments written by the test
#: (``next_attempt_at``) with moments written by the worker (``lease_until``), so both
#: must read the same clock. Tasks the worker itself sends (the sweeper's, the release's)
#: go to the test's queues as well.
#:
#: time_machine starts a ticking clock at its *first reading*, not at ``start()``: read
#: it at once, or the worker's clock lags by however long Django and Celery take to
#: import before something asks the time (seen as ~2 s on a busy machine).
WORKER_BOOTSTRAP = """\
import os, sys, time
import time_machine
offset = float(os.environ["MSD_TEST_CLOCK_OFFSET"])
time_machine.travel(time.time() + offset, tick=True).start()
time.time()
from msdportaal.celery import SEND_TASK, app
app.conf.task_default_queue = os.environ["MSD_TEST_CELERY_QUEUE"]
app.conf.task_routes = {SEND_TASK: {"queue": os.environ["MSD_TEST_RINIS_QUEUE"]}}
from celery.__main__ import main
sys.argv[0] = "celery"
sys.exit(main())
"""


class Worker:
    """One ``celery worker`` (and, with prefork, its children) or ``celery beat`` process."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_BOOTSTRAP, *args],
            env=env,
            cwd=SRC_DIR.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: children are stopped with it
        )

    def __repr__(self) -> str:
        return f"<Worker {self.name} pid={self.process.pid}>"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def assert_running(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise AssertionError(f"{self} exited with {code}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a pulled plug would: no shutdown, no acks."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill_all(self) -> None:
        """SIGKILL to the worker and its pool processes at once (a node or container lost)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """At the end of the test: the whole process group, at once.

        Nothing is left to finish by then, and a warm shutdown takes seconds (the
        filesystem broker's consumer loop notices the signal only after its next poll).
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()


def wait_until[T](
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    workers: Iterable[Worker] = (),
    interval: float = 0.05,
) -> T:
    """Polls *predicate* until it returns something truthy; fails at the deadline, or
    as soon as one of *workers* has died (with its log)."""
    workers = list(workers)
    deadline = time.monotonic() + timeout  # time_machine leaves the monotonic clock alone
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        for worker in workers:
            worker.assert_running()
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {w}:\n{w.log_tail()}" for w in workers)
            raise AssertionError(f"no {what} within {timeout:g} s{logs}")
        pause.wait(interval)


def worker_database_url() -> str:
    """The test database, as ``DATABASE_URL`` for a worker process."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        if not os.path.isabs(name):
            pytest.fail(
                f"The SQLite test database is {name!r}; a worker process cannot see it. "
                'Set DATABASES["default"]["TEST"]["NAME"] to a file (test_settings.py).'
            )
        return f"sqlite:///{name}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@pytest.fixture
def reference_data(transactional_db: None) -> None:
    """Committed data: an earlier transactional test may have flushed the seeded rows."""
    restore_reference_data()


def empty_worker_queues() -> None:
    """Drops whatever an earlier run or test left in the tests' queues, including, on
    Redis, the unacknowledged tasks of a worker that was killed."""
    from msdportaal.celery import app

    queues = (WORKER_QUEUE, WORKER_RINIS_QUEUE)
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            with contextlib.suppress(Exception):  # a queue never declared (filesystem)
                channel.queue_purge(queue)
        if connection.transport.driver_type == "redis":
            client = channel.client
            for tag, payload in client.hgetall(channel.unacked_key).items():
                _message, _exchange, routing_key = json.loads(payload)
                if routing_key in queues:
                    client.hdel(channel.unacked_key, tag)
                    client.zrem(channel.unacked_index_key, tag)


@contextlib.contextmanager
def tests_queues() -> Iterator[None]:
    """Tasks the test process sends go to the tests' queues (the send task to the one that
    stands in for ``rinis``), as in the workers' bootstrap."""
    from msdportaal.celery import SEND_TASK, app

    def routes_changed() -> None:
        app.amqp.flush_routes()
        vars(app.amqp).pop("router", None)  # a cached property, holding the old routes

    previous = app.conf.task_default_queue, app.conf.task_routes
    app.conf.task_default_queue = WORKER_QUEUE
    app.conf.task_routes = {SEND_TASK: {"queue": WORKER_RINIS_QUEUE}}
    routes_changed()
    try:
        yield
    finally:
        app.conf.task_default_queue, app.conf.task_routes = previous
        routes_changed()


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """The tests' own broker queues, empty: tasks the test's code sends go there, and
    the workers take only from there (not what other tests left in the default queues)."""
    with tests_queues():
        empty_worker_queues()
        yield WORKER_QUEUE
        empty_worker_queues()


class CeleryProcesses:
    """The Celery processes one test started, all stopped when it ends."""

    def __init__(self, settings: Any, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.processes: list[Worker] = []

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        settings = self.settings
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH", "")])
            ),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "MSD_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MSD_RINIS_URL": settings.MSD_RINIS_URL,
            "MSD_RINIS_CLIENT_CERT": settings.MSD_RINIS_CLIENT_CERT,
            "MSD_RINIS_CLIENT_KEY": settings.MSD_RINIS_CLIENT_KEY,
            "MSD_RINIS_CA_BUNDLE": settings.MSD_RINIS_CA_BUNDLE,
            "MSD_RINIS_CONNECT_TIMEOUT": str(settings.MSD_RINIS_CONNECT_TIMEOUT),
            "MSD_RINIS_READ_TIMEOUT": str(settings.MSD_RINIS_READ_TIMEOUT),
            "MSD_RINIS_READ_SECONDS_PER_MB": str(settings.MSD_RINIS_READ_SECONDS_PER_MB),
            "EMAIL_URL": f"smtp://{settings.EMAIL_HOST}:{settings.EMAIL_PORT}",
            "MSD_LOG_LEVEL": "INFO",
            "MSD_TEST_CELERY_QUEUE": WORKER_QUEUE,
            "MSD_TEST_RINIS_QUEUE": WORKER_RINIS_QUEUE,
            # How far the test's clock is from the real one, at this moment.
            "MSD_TEST_CLOCK_OFFSET": repr(time.time() - time_machine.escape_hatch.time.time()),
            **env,
        }

    def start(self, kind: str, args: list[str], env: dict[str, str]) -> Worker:
        name = f"{kind}{len(self.processes) + 1}-{uuid.uuid4().hex[:6]}"
        args = [arg.replace("{name}", name) for arg in args]
        process = Worker(name, args, self.environment(env), self.tmp_path / f"{name}.log")
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()
            logger.info(
                "%s (exit %s):\n%s", process, process.process.returncode, process.log_tail(80)
            )


@pytest.fixture
def celery_processes(
    transactional_db: None, simulator: Any, settings: Any, worker_queue: str, tmp_path: Path
) -> Iterator[CeleryProcesses]:
    processes = CeleryProcesses(settings, tmp_path)
    yield processes
    processes.stop_all()


#: The production queues, and the tests' queues that stand in for them.
STAND_IN = {"celery": WORKER_QUEUE, "rinis": WORKER_RINIS_QUEUE}


@pytest.fixture
def start_worker(celery_processes: CeleryProcesses) -> Callable[..., Worker]:
    """``start_worker(pool="solo", concurrency=1, queues="celery,rinis", **env)`` starts a
    real Celery worker, configured as this test's settings are (database, broker, media,
    RINIS, mail, clock). *queues* names the production queues it consumes (the tests' own
    stand in for them); by default both, as the Procfile's single worker does.

    Extra keyword arguments are environment variables for the worker's settings.
    """

    def start(
        *, pool: str = "solo", concurrency: int = 1, queues: str = "celery,rinis", **env: str
    ) -> Worker:
        consumed = ",".join(STAND_IN[queue] for queue in queues.split(","))
        args = ["-A", "msdportaal", "worker", "--pool", pool, "--concurrency", str(concurrency)]
        args += ["--queues", consumed, "--hostname", "{name}@%h"]
        args += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        args += ["--loglevel", "INFO"]
        return celery_processes.start("worker", args, env)

    return start


@pytest.fixture
def start_beat(celery_processes: CeleryProcesses, tmp_path: Path) -> Callable[..., Worker]:
    """``start_beat(**env)`` starts ``celery beat`` (the outbox sweeper every
    ``MSD_OUTBOX_SWEEP_SECONDS``), on the test's clock and queues."""

    def start(**env: str) -> Worker:
        args = ["-A", "msdportaal", "beat", "--loglevel", "INFO"]
        args += ["--schedule", str(tmp_path / "{name}-schedule")]
        return celery_processes.start("beat", args, env)

    return start
