"""Structured logs: structlog and the standard library, rendered as JSON or for a console.

``configure()`` is called from the settings (``LOGGING`` is built here), so every
process — web, worker, beat, management commands — logs the same way from its first
line. Log lines from the standard library (Django, Celery, our ``logging.getLogger``
modules) and from structlog go through the same processors, so both carry the context
bound with :mod:`structlog.contextvars`: the request id, the Celery task id, the
outbound message.
"""

from __future__ import annotations

import sys
from typing import Any

import structlog

FORMATS = ("json", "console")


def drop_request_object(logger: Any, method_name: str, event_dict: dict) -> dict:
    """Django passes the request as ``extra``; its repr holds the full path (and so a
    Grote Berichten token). The request id already ties the line to its request."""
    if not isinstance(event_dict.get("request"), str | type(None)):
        event_dict.pop("request")
    return event_dict


#: Applied to every line, from structlog and from the standard library alike.
SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    drop_request_object,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(log_format: str) -> list[Any]:
    # Tracebacks without the frames' local variables: those can hold passwords, tokens or
    # file contents (structlog shows them by default, and so does Rich when installed).
    if log_format == "json":
        return [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    return [
        structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    ]


def configure(log_format: str, level: str, loggers: dict[str, Any] | None = None) -> dict:
    """Configures structlog, and returns the ``LOGGING`` dict for Django's dictConfig."""
    if log_format not in FORMATS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"MSD_LOG_FORMAT={log_format!r}: kies json of console.")
    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return logging_dict(log_format, level, loggers)


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler: renders structlog's and the standard library's lines."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(log_format),
        ],
        foreign_pre_chain=SHARED_PROCESSORS,
    )


def logging_dict(log_format: str, level: str, loggers: dict[str, Any] | None = None) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {"()": "msdportaal.operations.logs.formatter", "log_format": log_format}
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": dict(loggers or {}),
    }


def reapply(settings_logging: dict) -> None:
    """Celery's ``setup_logging`` signal: keep our configuration instead of Celery's."""
    import logging.config

    logging.config.dictConfig(settings_logging)
