"""When to try a call again, and after how long.

A call is retried only when repeating it can never decide twice (:attr:`Call.may_retry`: a
read, a write carrying its ``Idempotency-Key``, or a write idempotent by nature), and only
after an answer that says nothing was decided: no answer at all (connection refused or
reset, timeout), 429 or 503. A retry reuses the same Call, so the same key. Delays grow
exponentially with full jitter; a ``Retry-After`` the server sends is waited out first.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from credit_ledger.calls import Answer, Call
from credit_ledger.problems import ConnectionFailed

__all__ = ["RETRY_STATUSES", "Attempts", "RetryPolicy", "retry_after_seconds"]

RETRY_STATUSES = frozenset({429, 503})
# Errors after which the request may not have reached the server, or its answer was lost.
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` attempts after the first, each after a jittered exponential delay.

    The n-th retry waits ``uniform(0, min(max_backoff, backoff * 2**n))`` seconds, plus the
    server's ``Retry-After`` when it sent one. A ``Retry-After`` longer than
    ``max_retry_after`` is not waited for: the error is raised at once.
    """

    retries: int = 3
    backoff: float = 0.05
    max_backoff: float = 2.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must not be negative")

    def delay(
        self, retry: int, retry_after: float | None, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or None to give up."""
        if retry >= self.retries:
            return None
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        jitter = rand() * min(self.max_backoff, self.backoff * 2.0**retry)
        return (retry_after or 0.0) + jitter


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Attempts:
    """The retry state of one call: each failure says how long to wait, or raises/returns
    when there is to be no further attempt."""

    def __init__(self, policy: RetryPolicy, call: Call[Any]) -> None:
        self.policy = policy
        self.call = call
        self.retries = 0

    def after_error(self, exc: httpx.TransportError) -> float:
        """The delay before retrying after no answer came.

        Raises:
            ConnectionFailed: The call may not be repeated, the error is not transient
                (a malformed URL), or the retries are spent.
        """
        delay = None
        if self.call.may_retry and isinstance(exc, _RETRYABLE_ERRORS):
            delay = self.policy.delay(self.retries, None)
        if delay is None:
            raise ConnectionFailed.from_exception(exc) from exc
        self.retries += 1
        return delay

    def after_answer(self, answer: Answer) -> float | None:
        """The delay before retrying after ``answer``, or None to keep this answer."""
        if answer.status not in RETRY_STATUSES or not self.call.may_retry:
            return None
        retry_after = retry_after_seconds(_header(answer, "retry-after"))
        delay = self.policy.delay(self.retries, retry_after)
        if delay is not None:
            self.retries += 1
        return delay


def _header(answer: Answer, name: str) -> str | None:
    headers = answer.headers
    value = headers.get(name)
    if value is None:  # a plain dict (batch results, tests) is case-sensitive
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value
