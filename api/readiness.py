"""``/readyz``'s check of every shard's event store, answered within a deadline.

A store on a cluster that is down does not refuse at once: the connect timeout and
eventsourcing's retries of the read take tens of seconds, and a probe that waits that long
is a probe the load balancer has already given up on. So each shard's check runs in a
thread of its own, the probe waits for all of them at most ``READY_WITHIN_SECONDS`` and
names every shard not answered by then as failing, and a shard keeps at most one check in
flight: a probe arriving while the previous check still waits joins that check instead of
starting another (probes every second against a dead cluster start no pile of threads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, wait
from typing import Any

__all__ = ["READINESS_KEY", "READY_WITHIN_SECONDS", "Readiness"]

READY_WITHIN_SECONDS = 2.0
READINESS_KEY = "readiness"
"""Where the app keeps its :class:`Readiness` (``app.state``)."""


class Readiness:
    """The shards whose store does not answer a cheap read in time."""

    def __init__(self) -> None:
        self._checks: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def failing(self, shards: Iterable[Any]) -> list[int]:
        """Indexes of the shards whose store failed or did not answer within the deadline."""
        checks = {shard.shard_index: self._check(shard) for shard in shards}
        done, _ = wait(checks.values(), timeout=READY_WITHIN_SECONDS)
        return sorted(i for i, c in checks.items() if c not in done or c.exception() is not None)

    def _check(self, shard: Any) -> Future[None]:
        with self._lock:
            running = self._checks.get(shard.shard_index)
            if running is not None and not running.done():
                return running
            check: Future[None] = Future()
            self._checks[shard.shard_index] = check
        name = f"ledger-ready-{shard.shard_index}"
        threading.Thread(target=_read, args=(shard, check), name=name, daemon=True).start()
        return check


def _read(shard: Any, check: Future[None]) -> None:
    try:
        shard.recorder.max_notification_id()
    except BaseException as error:  # any failure of a store means "not ready", whatever it is
        check.set_exception(error)
    else:
        check.set_result(None)
