"""Fixtures of the reliability tier."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def quiet_http_client() -> Iterator[None]:
    """httpx logs every request at INFO: thousands of lines a second under load, which would
    cost the load clients CPU and bury the figures. Back to its level after the test."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
