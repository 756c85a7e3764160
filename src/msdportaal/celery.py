"""Celery application. Tasks are only triggers: the database holds the truth (DESIGN.md §6)."""

import contextlib
import logging
import os
import time
import uuid
from typing import Any

import kombu
from celery import Celery, bootsteps
from celery.app.amqp import AMQP
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msdportaal.conf.settings")

#: Sends to RINIS have a queue of their own. A RINIS that answers slowly then holds only
#: the slots of the workers that consume it (``--queues rinis``), never those of the
#: periodic tasks and the e-mails on the default queue ``celery`` (docs/operations.md).
RINIS_QUEUE = "rinis"
SEND_TASK = "msdportaal.transport.tasks.send_outbound_message"

logger = logging.getLogger(__name__)

#: Seconds between two attempts to reach a broker that is away.
BROKER_RECONNECT_SECONDS = 1.0


class BrokerConnection(kombu.Connection):
    """The broker connection of every Celery process, with two repairs for a broker that
    goes away (a Redis restart, test_recovery.py):

    - While it is away, worker and beat try again every second. Celery calls
      ``ensure_connection`` with kombu's default intervals, 2, 4, 6 … up to 30 s: they
      came back up to 30 s late (measured: 5 to 7 s after a 14 s outage), and nothing was
      sent meanwhile. Callers that pass intervals of their own (publishing with a retry
      policy) keep them.
    - A worker with tasks under way does not stop. On a lost connection Celery's consumer
      *collects* the connection, which also cut the transport's link to its connection
      (``transport.client = None``). Tasks still running then acknowledged their message
      on the old channel (and closing that channel gave its unacknowledged tasks back),
      and kombu's Redis transport, finding no client to read its address from, raised
      AttributeError ("'NoneType' object has no attribute 'hostname'"), which is none of
      the connection errors it handles: the worker exited ("Unrecoverable error", seen
      with ``--pool threads``). The link is kept: such an acknowledgement now reaches
      Redis if it is back, or fails as a connection error, which is logged.
    """

    def _do_close_transport(self) -> None:
        self._transport = None  # kombu also sets self._transport.client = None

    def _ensure_connection(  # type: ignore[override]
        self,
        errback: Any = None,
        max_retries: int | None = None,
        interval_start: float = BROKER_RECONNECT_SECONDS,
        interval_step: float = 0,
        interval_max: float = BROKER_RECONNECT_SECONDS,
        **kwargs: Any,
    ) -> Any:
        return super()._ensure_connection(
            errback, max_retries, interval_start, interval_step, interval_max, **kwargs
        )


class _FilesystemChannel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """As kombu's, but the task file gets its name only once it is written (a rename):
        kombu writes it in place, and a worker polling the folder could take a file that
        was still empty (JSONDecodeError "Expecting value": the worker exited; seen with
        two workers on one folder, as the Procfile runs them)."""
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # never read: it does not end in "<queue>.msg"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    """The ``filesystem://`` broker (development, tests) with whole task files only."""

    Channel = _FilesystemChannel


class _AMQP(AMQP):
    Connection = BrokerConnection
    BrokerConnection = BrokerConnection


class OutboxCatchUp(bootsteps.StartStopStep):
    """When a worker that sends gets its broker connection back, the outbox is swept at
    once, with every task queued before that moment counted as lost: a Redis that
    restarted without persistence has lost them all, and waiting for the sweeper's usual
    "two sweeps old" would leave those messages *queued* for up to 15 s more. A task that
    survived (a network blip) gets a duplicate, which finds its message taken and does
    nothing.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, c: Any) -> None:
        from django.db import connections
        from django.utils import timezone

        reconnected = getattr(c, "msd_connected_before", False)
        c.msd_connected_before = True
        send_queue = c.app.amqp.router.route({}, SEND_TASK)["queue"].name
        if not reconnected or send_queue not in {q.name for q in c.task_consumer.queues}:
            return
        from msdportaal.transport import services

        try:
            requeued = services.sweep(lost_before=timezone.now())
            logger.info("Broker connection back: %d outbox messages queued again", requeued)
        except Exception:  # the periodic sweeper tries again
            logger.exception("The outbox sweep after reconnecting to the broker failed")
        finally:
            connections.close_all()  # the consumer's process keeps no connection


app = Celery("msdportaal", amqp=_AMQP)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {SEND_TASK: {"queue": RINIS_QUEUE}}
app.steps["consumer"].add(OutboxCatchUp)
app.autodiscover_tasks()
