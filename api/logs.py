"""Logging of the ``ledger`` processes: configured once by the CLI, in text or JSON lines.

Without it Python drops everything below WARNING (finished rebuilds, a projection runner that
recovered, webhook retries) and prints the rest bare. ``LEDGER_LOG_LEVEL`` (default INFO) and
``LEDGER_LOG_FORMAT`` (``text`` or ``json``: one JSON object a line, for a log shipper) apply to
the root logger, so to every module's ``logging.getLogger(__name__)``, and to uvicorn's loggers,
whose own handlers are dropped so that every line has the same form. Lines go to standard error;
standard output stays for what a command prints (``ledger keys create`` prints the key alone).

uvicorn configures logging in every server process from the dictionary it is given
(:func:`uvicorn_log_config`), which is how worker processes get the same configuration.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "TEXT_FORMAT",
    "JsonFormatter",
    "LogSettings",
    "StderrHandler",
    "configured_logging",
    "logging_config",
    "uvicorn_log_config",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class LogSettings(BaseSettings):
    """``LEDGER_LOG_LEVEL`` and ``LEDGER_LOG_FORMAT``, read apart from the other settings so
    that a command whose other settings are invalid still logs why."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", frozen=True, extra="ignore")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``process``,
    ``message`` and, for an exception, ``exception`` (its traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (not when configured), so a
    replaced stream (a test's capture, a closed one) is never written to later."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def logging_config(settings: LogSettings) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dictionary for ``settings``."""
    formatter: dict[str, Any] = {"format": TEXT_FORMAT}
    if settings.log_format == "json":
        formatter = {"()": f"{__name__}.JsonFormatter"}
    # uvicorn's loggers keep no handler of their own and pass every line to the root's.
    uvicorn = {name: {"handlers": [], "propagate": True} for name in _UVICORN_LOGGERS}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ledger": formatter},
        "handlers": {"stderr": {"()": f"{__name__}.StderrHandler", "formatter": "ledger"}},
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": uvicorn,
    }


def uvicorn_log_config() -> dict[str, Any]:
    """``log_config`` for uvicorn, from the environment (read again in each worker process)."""
    return logging_config(LogSettings())


@contextmanager
def configured_logging(settings: LogSettings | None = None) -> Iterator[None]:
    """Logging configured from ``settings`` (the environment by default) while the block runs.

    What was configured before is put back afterwards: a command ends with its process, but
    tests call the CLI many times in one.
    """
    names = ["", *_UVICORN_LOGGERS]
    saved = [
        (logger, logger.level, logger.handlers[:], logger.propagate)
        for logger in (logging.getLogger(name) for name in names)
    ]
    logging.config.dictConfig(logging_config(settings or LogSettings()))
    try:
        yield
    finally:
        for logger, level, handlers, propagate in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate
