"""Snapshots taken off the request path, so a long-lived wallet loads fast after a restart.

eventsourcing's own ``snapshotting_intervals`` snapshots synchronously inside ``save()``; here
a save that crossed a multiple of ``interval`` versions hands over a copy of the aggregate
just saved (its state at exactly that version), and one background thread turns the copy
into a snapshot and stores it later. Copying what is in memory costs far less than the
alternative, reloading the version from the store (up to ``interval`` events replayed: ~12
ms of a core per snapshot for a busy wallet). A full queue drops the request: the next
crossing asks again, and a snapshot is only ever an optimisation.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Snapshotter"]

log = logging.getLogger(__name__)


class Snapshotter:
    """Takes snapshots in a daemon thread via ``take(copy_of_aggregate)``."""

    def __init__(
        self, take: Callable[[Any], None], *, interval: int = 500, queue_size: int = 1024
    ) -> None:
        if interval < 1:
            raise ValueError("snapshot interval must be at least 1")
        self.interval = interval
        self._take = take
        # ``None`` is the close sentinel: the thread blocks on the queue instead of polling.
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.taken = 0

    def saved(self, aggregate: Any, old_version: int) -> None:
        """Note that ``aggregate`` was just saved (it was at ``old_version`` before); ask for a
        snapshot of it when the save crossed a multiple of ``interval``."""
        if aggregate.version // self.interval == old_version // self.interval:
            return
        self._ensure_started()
        try:
            # A deep copy: the caller goes on changing the aggregate while the copy waits.
            self._queue.put_nowait(copy.deepcopy(aggregate))
        except queue.Full:
            log.warning("snapshot queue full; skipping %s at %d", aggregate.id, aggregate.version)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every requested snapshot is taken (tests, orderly shutdown)."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while self._queue.unfinished_tasks and not deadline.is_set():
                deadline.wait(0.01)
        finally:
            timer.cancel()

    def close(self) -> None:
        self._stop.set()
        if self._thread is None:
            return
        # a full queue: the thread is busy and sees the stop flag after this snapshot
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=5)

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="ledger-snapshots", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            try:
                self._take(item)
                self.taken += 1
            except Exception:  # a failed snapshot costs load time only, never correctness
                log.exception("snapshot of %s at version %d failed", item.id, item.version)
            finally:
                self._queue.task_done()
