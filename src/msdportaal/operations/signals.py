"""Celery: our log configuration in workers and beat, and the task id in every log line."""

from __future__ import annotations

from typing import Any

import structlog
from celery import signals
from django.conf import settings

from .logs import reapply


@signals.setup_logging.connect(weak=False)
def keep_our_logging(**kwargs: Any) -> None:
    """With a receiver connected, Celery leaves the root logger alone (no hijack): worker
    and beat log through the same structlog formatter as the web processes."""
    reapply(settings.LOGGING)


@signals.task_prerun.connect(weak=False)
def bind_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task_name=getattr(task, "name", None))


@signals.task_postrun.connect(weak=False)
def unbind_task(**kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
