"""Recovery, with real Celery workers (and beat), the simulator and real faults.

- After a RINIS outage one success releases the messages waiting for a retry.
- A slow RINIS holds only the sending slots it uses: other gemeenten's messages and the
  e-mails go on (the send task has a queue of its own).
- A worker SIGKILLed again and again mid-send, a database whose connections are all
  dropped, a broker that restarts empty: everything is delivered within 30 s of the
  recovery, nothing stays *sending*, and RINIS stores each message once.

Every wait is a poll with a deadline (``wait_until``); the one timed pause is the length
of an outage the test causes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.transport.models import MessageState, OutboundAttempt, OutboundMessage

from .conftest import Worker, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

logger = logging.getLogger(__name__)

#: The goal after every fault: all delivered within this long after the recovery.
RECOVERY_GOAL = 30.0
#: Generous, for what comes before the recovery (workers start in a few seconds).
DEADLINE = 90.0


def control(simulator: Any, path: str, payload: dict | None = None) -> dict:
    url = f"{simulator.control_url}/{path}"
    response = (
        requests.post(url, json=payload, timeout=5)
        if payload is not None
        else requests.get(url, timeout=5)
    )
    response.raise_for_status()
    return response.json()


def deliver(municipality: Municipality) -> OutboundMessage:
    user = make_municipal_user(municipality, username=f"medewerker-{municipality.code}")
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    name = f"MSD_WMO-BASIS_{municipality.code}_{CURRENT}.csv"
    (delivery,) = upload_and_confirm(client, make_csv(name))
    return delivery.outbound_message


def count(state: MessageState) -> int:
    return OutboundMessage.objects.filter(state=state).count()


def sending_by(worker: Worker) -> int:
    """Messages *worker* (its main process: a threads pool) holds the lease of."""
    return OutboundMessage.objects.filter(
        state=MessageState.SENDING, lease_holder__contains=f"/{worker.process.pid}/"
    ).count()


def received_at(simulator: Any) -> int:
    """How many Di01s reached RINIS (resends included)."""
    return control(simulator, "status")["counters"].get("received", 0)


def sends_under_way(simulator: Any, worker: Worker, *, received: int, at_least: int) -> bool:
    """*worker* holds at least *at_least* leases, and RINIS got a Di01 since *received*."""
    return sending_by(worker) >= at_least and received_at(simulator) > received


def assert_each_stored_once_and_nothing_sending(simulator: Any, messages: int) -> None:
    """What the gemeenten and CBS notice: every delivery delivered, none stuck in
    *sending*, and at RINIS one stored message per delivery (resends were recognised as
    the same message, never stored as another)."""
    assert count(MessageState.DELIVERED) == messages
    assert not OutboundMessage.objects.exclude(state=MessageState.DELIVERED).exists()
    assert not OutboundAttempt.objects.filter(finished_at__isnull=True).exists()
    stored = control(simulator, "messages")["messages"]
    assert sorted(m["referentienummer"] for m in stored) == sorted(
        OutboundMessage.objects.values_list("referentienummer", flat=True)
    )
    assert sorted(m["referentienummerBericht"] for m in stored) == sorted(
        Delivery.objects.values_list("reference", flat=True)
    )


def test_after_an_outage_one_success_releases_every_waiting_message(start_worker, simulator):
    # A long back-off: without the release, nothing would be retried within this test.
    worker = start_worker(MSD_RINIS_RETRY_BASE_SECONDS="900", MSD_OUTBOX_RECOVERY_BATCH="3")
    *waiting_for, first_after = list(Municipality.objects.order_by("code")[:9])
    control(simulator, "fail", {"mode": "down", "count": len(waiting_for)})
    waiting = [deliver(m) for m in waiting_for]
    wait_until(
        lambda: count(MessageState.RETRYING) == 8,
        timeout=60,
        what="8 messages retrying",
        workers=[worker],
    )
    assert all(
        m.next_attempt_at.timestamp() - time.time() > 300
        for m in OutboundMessage.objects.filter(pk__in=[m.pk for m in waiting])
    )

    # RINIS is back; the next delivery goes through and the waiting ones follow at once.
    recovered = time.monotonic()
    deliver(first_after)
    wait_until(
        lambda: count(MessageState.DELIVERED) == 9,
        timeout=15,
        what="all 9 messages delivered",
        workers=[worker],
    )
    drained = time.monotonic() - recovered
    assert drained < 15
    at_rinis = control(simulator, "messages")["messages"]
    assert len(at_rinis) == 9
    assert control(simulator, "status")["counters"].get("duplicates", 0) == 0


def test_slow_answers_hold_up_neither_other_gemeenten_nor_the_receipts(
    start_worker, simulator, mailbox
):
    # As the Procfile runs them: a worker for the default queue (e-mails, periodic tasks)
    # and one for the RINIS sends, with its own concurrency.
    worker = start_worker(queues="celery")
    sender = start_worker(
        queues="rinis", pool="threads", concurrency=8, MSD_RINIS_READ_TIMEOUT="30"
    )
    workers = [worker, sender]
    slow_ones, others = (
        list(Municipality.objects.order_by("code")[:4]),
        list(Municipality.objects.order_by("code")[4:7]),
    )
    # RINIS stores the next four messages, then takes 15 s to answer each.
    control(simulator, "fail", {"mode": "slow", "count": 4, "delay_seconds": 15})
    slow = [deliver(m) for m in slow_ones]
    wait_until(
        lambda: (
            len(control(simulator, "messages")["messages"]) == 4
            and count(MessageState.SENDING) == 4
        ),
        timeout=DEADLINE,
        what="four slow sends under way",
        workers=workers,
    )

    started = time.monotonic()
    prompt = [deliver(m) for m in others]
    wait_until(
        lambda: (
            OutboundMessage.objects.filter(
                pk__in=[m.pk for m in prompt], state=MessageState.DELIVERED
            ).count()
            == 3
        ),
        timeout=10,
        what="the other gemeenten' messages delivered",
        workers=workers,
    )
    delivered_after = time.monotonic() - started
    # Every receipt arrived, the slow gemeenten's too: the e-mails do not queue behind RINIS.
    wait_until(
        lambda: all(mailbox.to(f"medewerker-{m.code}@example.org") for m in slow_ones + others),
        timeout=10,
        what="all seven receipts",
        workers=workers,
    )
    assert (
        OutboundMessage.objects.filter(
            pk__in=[m.pk for m in slow], state=MessageState.SENDING
        ).count()
        == 4
    ), "the slow ones are still waiting for their answers"
    assert delivered_after < 10

    wait_until(
        lambda: count(MessageState.DELIVERED) == 7,
        timeout=DEADLINE,
        what="the slow answers",
        workers=workers,
    )
    assert_each_stored_once_and_nothing_sending(simulator, 7)


def test_a_worker_killed_ten_times_mid_send_loses_nothing_and_recovers_fast(
    start_worker, start_beat, simulator
):
    messages = 22
    # The periodic tasks run as in production: beat, and a worker for the default queue.
    background = [start_beat(), start_worker(queues="celery")]
    # RINIS stores every message, then takes 3 s to answer: a kill lands between RINIS
    # having the message and the Bv03 being written down.
    control(simulator, "fail", {"mode": "slow", "count": 100_000, "delay_seconds": 3})
    for municipality in Municipality.objects.order_by("code")[:messages]:
        deliver(municipality)

    for round_ in range(10):
        sender = start_worker(
            queues="rinis", pool="threads", concurrency=messages, MSD_RINIS_READ_TIMEOUT="30"
        )
        wait_until(
            functools.partial(
                sends_under_way,
                simulator,
                sender,
                received=received_at(simulator),
                at_least=min(20, messages - count(MessageState.DELIVERED)),
            ),
            timeout=DEADLINE,
            what=f"round {round_ + 1}: sends under way",
            workers=[sender, *background],
        )
        sender.kill()
    left_sending = count(MessageState.SENDING)
    assert left_sending >= 10, "the kills landed mid-send"
    stored = {m["referentienummer"] for m in control(simulator, "messages")["messages"]}
    sending = OutboundMessage.objects.filter(state=MessageState.SENDING)
    assert stored & set(sending.values_list("referentienummer", flat=True)), (
        "some messages RINIS has are still 'sending' here: the worker died before the Bv03"
    )

    # RINIS answers at once again, and a fresh worker comes up (as systemd would start it).
    control(simulator, "reset", {})
    recovered = time.monotonic()
    sender = start_worker(queues="rinis", pool="threads", concurrency=8)
    wait_until(
        lambda: count(MessageState.DELIVERED) == messages,
        timeout=RECOVERY_GOAL,
        what=f"all {messages} messages delivered after the last kill",
        workers=[sender, *background],
    )
    drained = time.monotonic() - recovered
    logger.info(
        "SIGKILL x10: %d left sending, all delivered %.1f s after restart", left_sending, drained
    )
    assert drained < RECOVERY_GOAL
    assert_each_stored_once_and_nothing_sending(simulator, messages)
    # Those RINIS had were sent again as the same message, and answered as a duplicate.
    assert control(simulator, "status")["counters"]["duplicates"] >= 1


# --- the database drops every connection --------------------------------------------


@contextlib.contextmanager
def database_restart(name: str) -> Iterator[Any]:
    """What a PostgreSQL restart does to one database, without touching the server (other
    databases on it belong to others): new connections are refused and every backend
    connected to *name* is terminated, until the block ends."""
    import psycopg

    params = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            yield admin
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    connection.close()  # the test's own connection was terminated too


@pytest.mark.postgresql
def test_all_database_connections_dropped_mid_send_nothing_stays_sending(
    start_worker, start_beat, simulator
):
    messages = 20
    # RINIS takes 3 s to answer: the answers arrive while the database is away.
    control(simulator, "fail", {"mode": "slow", "count": 100_000, "delay_seconds": 3})
    for municipality in Municipality.objects.order_by("code")[:messages]:
        deliver(municipality)
    workers = [
        start_beat(),
        start_worker(queues="celery"),
        start_worker(
            queues="rinis", pool="threads", concurrency=messages, MSD_RINIS_READ_TIMEOUT="30"
        ),
    ]
    wait_until(
        lambda: count(MessageState.SENDING) >= messages // 2,
        timeout=DEADLINE,
        what="sends under way",
        workers=workers,
    )
    database = str(connection.settings_dict["NAME"])
    with database_restart(database) as admin:
        # The database stays away for 4 s: RINIS's answers arrive meanwhile.
        pause = threading.Event()
        for _ in range(8):
            pause.wait(0.5)
            admin.execute(  # a backend that slipped in before the refusal took effect
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
    recovered = time.monotonic()
    control(simulator, "reset", {})
    wait_until(
        lambda: count(MessageState.DELIVERED) == messages,
        timeout=RECOVERY_GOAL,
        what=f"all {messages} messages delivered after the database came back",
        workers=workers,
    )
    drained = time.monotonic() - recovered
    logger.info("database restart: all delivered %.1f s after it came back", drained)
    assert drained < RECOVERY_GOAL
    assert_each_stored_once_and_nothing_sending(simulator, messages)


# --- the broker restarts, empty ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: a restart
    loses every queued task, as a Redis without AOF does."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for the broker restart test"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(self.answers, timeout=10, what="redis-server answering")

    def answers(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path, settings: Any, monkeypatch: Any) -> Iterator[RedisServer]:
    """The broker of this test alone (never the shared one), for the test's code and the
    workers it starts."""
    from msdportaal.celery import app

    server = RedisServer(tmp_path)
    server.start()
    previous = app.conf.broker_url, app.conf.broker_transport_options

    def reconnect() -> None:  # the app's connection pools belong to the broker URL
        app._pool = None
        vars(app.amqp).pop("_producer_pool", None)

    settings.CELERY_BROKER_URL = server.url  # for the workers (start_worker reads it)
    # Celery prefers CELERY_BROKER_URL from the environment to its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)
    app.conf.broker_url, app.conf.broker_transport_options = server.url, {}
    reconnect()
    assert app.connection_for_write().port == server.port
    try:
        yield server
    finally:
        monkeypatch.undo()
        app.conf.broker_url, app.conf.broker_transport_options = previous
        reconnect()
        server.kill()


def test_a_broker_restart_mid_run_is_caught_up_within_seconds(
    own_redis, start_worker, start_beat, simulator
):
    workers = [
        start_beat(),
        start_worker(queues="celery"),
        start_worker(queues="rinis", pool="threads", concurrency=8),
    ]
    municipalities = list(Municipality.objects.order_by("code")[:24])
    # RINIS takes 3 s to answer: when the broker goes, sends are under way (their tasks
    # are acknowledged after it went) and more tasks wait in it (lost with it).
    control(simulator, "fail", {"mode": "slow", "count": 100_000, "delay_seconds": 3})
    for municipality in municipalities[:16]:
        deliver(municipality)
    wait_until(
        lambda: count(MessageState.DELIVERED) >= 2,
        timeout=DEADLINE,
        what="the first deliveries",
        workers=workers,
    )

    own_redis.kill()  # every queued task is lost with it
    away = time.monotonic()
    # Gemeenten go on confirming while the broker is away (for 5 s at least).
    for municipality in municipalities[16:]:
        deliver(municipality)
    assert count(MessageState.QUEUED) >= 8
    threading.Event().wait(max(0.0, away + 5 - time.monotonic()))
    own_redis.start()
    restarted = time.monotonic()
    # From now on RINIS answers at once: what is measured is how fast the outbox catches up.
    control(simulator, "reset", {})

    wait_until(
        lambda: count(MessageState.DELIVERED) == len(municipalities),
        timeout=RECOVERY_GOAL,
        what="all messages delivered after the broker restart",
        workers=workers,
    )
    drained = time.monotonic() - restarted
    logger.info("broker restart: all %d delivered %.1f s after it", len(municipalities), drained)
    assert drained < RECOVERY_GOAL
    assert_each_stored_once_and_nothing_sending(simulator, len(municipalities))
