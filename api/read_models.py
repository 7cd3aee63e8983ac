"""The read models one API process answers audit reads from.

:class:`ReadModels` owns the process's view store (:func:`projections.open_views` on the
ledger's own store: the same PostgreSQL schema, an SQLite file beside the events file, or
SQLite in memory for a ``memory://`` ledger). It

* keeps the views current from a background thread when the projections run in process
  (:func:`runs_in_process`: by default on SQLite and memory stores, which cannot notify
  another process; on PostgreSQL ``ledger project`` runs beside the API instead), from
  every shard of the ledger;
* waits, for a read with ``?min_position=N``, until the views have applied position ``N``
  (at most ``LEDGER_PROJECTION_WAIT_SECONDS``), else :class:`ProjectionLagging` (503);
* reports each projection's position and lag (the admin route and the Prometheus gauges);
* rebuilds a projection blue/green in a background thread (``POST .../rebuild``).

The app's lifespan opens it (:meth:`ReadModels.open`), starts it and closes it; closing
stops the worker and any rebuild (which the next rebuild resumes) and closes the views.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from api.errors import RETRY_AFTER_SECONDS, ApiError, NotReady
from api.settings import Settings
from ledger.app.alerting import Alerting
from ledger.app.application import LedgerApplication
from ledger.app.shards import decode_position, encode_position
from projections import (
    PROJECTIONS,
    ProjectionRunner,
    ViewStore,
    install_views,
    open_views,
    projection_status,
    wait_for_position,
)
from projections.alerts.delivery import AlertDelivery
from projections.alerts.http import Egress, sender
from projections.positions import live_shard_positions, reached_position
from projections.rebuild import RebuildStopped, rebuild

__all__ = [
    "IN_PROCESS_STORES",
    "WORKER_THREAD",
    "ProjectionLagging",
    "ProjectionNotFound",
    "ReadModels",
    "RebuildInProgress",
    "runs_in_process",
]

log = logging.getLogger(__name__)

IN_PROCESS_STORES = frozenset({"eventsourcing.sqlite", "eventsourcing.popo"})
"""Stores whose API processes project in process unless ``LEDGER_PROJECTIONS_IN_PROCESS``
says otherwise: eventsourcing offers no cross-process subscription on them."""
WORKER_THREAD = "ledger-projections"
DELIVERY_THREAD = "ledger-alert-delivery"
IN_PROCESS_POLL_S = 0.05
"""How often an idle in-process worker looks for new events (there is no NOTIFY to wait on)."""
DROP_GRACE_S = 1.0
STOP_TIMEOUT_S = 30.0


class ProjectionLagging(ApiError):
    """The read models have not reached the ``min_position`` a read asked for, in time."""

    code = "projection_lagging"
    title = "Projection lagging"
    status = 503

    def __init__(self, position: int, required: int) -> None:
        super().__init__(
            f"the read models are at position {position}, not yet at {required}; retry shortly"
        )
        self.position = position
        self.required = required

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}

    def members(self) -> dict[str, Any]:
        return {"position": self.position, "required": self.required}


class ProjectionNotFound(ApiError):
    """No projection has this name."""

    code = "projection_not_found"
    title = "Projection not found"
    status = 404


class RebuildInProgress(ApiError):
    """This process is already rebuilding the projection."""

    code = "rebuild_in_progress"
    title = "Rebuild in progress"
    status = 409


def runs_in_process(settings: Settings, env: Any) -> bool:
    """Whether this API process keeps the views current itself (for a ledger's ``env``)."""
    if settings.projections_in_process is not None:
        return settings.projections_in_process
    return (env.get("PERSISTENCE_MODULE") or "eventsourcing.popo") in IN_PROCESS_STORES


class ReadModels:
    """The view store of one API process, its optional worker thread and its rebuilds."""

    def __init__(
        self,
        ledger: LedgerApplication,
        views: ViewStore,
        *,
        in_process: bool,
        wait_seconds: float,
        drop_grace: float = DROP_GRACE_S,
        poll_interval: float = IN_PROCESS_POLL_S,
        egress: Egress | None = None,
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.wait_seconds = wait_seconds
        self.drop_grace = drop_grace
        self.runner = (
            ProjectionRunner(ledger, views, poll_interval=poll_interval) if in_process else None
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the threads below
        self._worker: threading.Thread | None = None
        # Alerts go out from the process that projects them (the outbox is in its views).
        self.delivery = (
            AlertDelivery(
                views,
                clock=ledger.now,
                send=sender(egress or Egress()),
                on_gone=Alerting(ledger).on_gone,
            )
            if in_process
            else None
        )
        self._delivery_thread: threading.Thread | None = None
        self._rebuilds: dict[str, threading.Thread] = {}

    @classmethod
    def open(cls, ledger: LedgerApplication, settings: Settings) -> ReadModels:
        """The views of ``ledger``'s store, installed (empty until a worker fills them)."""
        env = ledger.env
        # Requests read the views from worker threads: as many connections as for events.
        pool_size = int(env.get("POSTGRES_POOL_SIZE") or 4)
        views = open_views(env, application_name="ledger-api", pool_size=pool_size)
        try:
            install_views(views, shards=len(ledger.shards))
        except BaseException:
            views.close()
            raise
        return cls(
            ledger,
            views,
            in_process=runs_in_process(settings, env),
            wait_seconds=settings.projection_wait_seconds,
            egress=settings.webhook_egress(),
        )

    @property
    def in_process(self) -> bool:
        return self.runner is not None

    def start(self) -> None:
        """Start the in-process worker thread, if this process projects (idempotent)."""
        with self._lock:
            if self.runner is None or self._worker is not None:
                return
            self._worker = threading.Thread(
                target=self.runner.run_forever, args=(self._stop,), name=WORKER_THREAD, daemon=True
            )
            self._worker.start()
            if self.delivery is not None:
                self._delivery_thread = threading.Thread(
                    target=self.delivery.run_forever,
                    args=(self._stop,),
                    name=DELIVERY_THREAD,
                    daemon=True,
                )
                self._delivery_thread.start()

    def close(self) -> None:
        """Stop the worker and any rebuild, wait for them, then close the views."""
        self._stop.set()
        with self._lock:
            threads = [
                t
                for t in (self._worker, self._delivery_thread, *self._rebuilds.values())
                if t is not None
            ]
        for thread in threads:
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("thread %s did not stop in %.0f s", thread.name, STOP_TIMEOUT_S)
        self.views.close()

    def wait_for(self, position: int, names: Sequence[str]) -> None:
        """Return once the views ``names`` have applied ``position`` (0 or less: at once),
        an encoded position of one shard's log (see ``ledger.app.shards``).

        Raises:
            ProjectionLagging: They did not within ``wait_seconds``.
        """
        if position <= 0:
            return
        deadline = time.monotonic() + self.wait_seconds
        for wanted in self._read_your_writes(position):
            remaining = max(0.0, deadline - time.monotonic())
            if not wait_for_position(self.views, wanted, remaining, names):
                reached = live_shard_positions(self.views, names)
                raise ProjectionLagging(reached_position(reached, position), position)

    def _read_your_writes(self, position: int) -> list[int]:
        """``position``, and with shards the head of every other shard now.

        Positions of different shards are not ordered: a client that wrote to shard 1 and
        then to shard 0 holds shard 0's (later) position, which says nothing of shard 1. So
        the read also waits for everything the other shards had committed when it arrived
        — which includes every write acknowledged before it was sent.
        """
        shard, _ = decode_position(position)
        wanted = [position]
        for other in self.ledger.shards:
            if other.shard_index == shard:
                continue
            head = other.recorder.max_notification_id()
            if head:
                wanted.append(encode_position(other.shard_index, head))
        return wanted

    def status(self) -> list[dict[str, Any]]:
        """Every projection's position, the log's head, the lag and the status."""
        return projection_status(self.ledger, self.views)

    def rebuilding(self, name: str) -> bool:
        """Whether this process is rebuilding projection ``name`` right now."""
        with self._lock:
            thread = self._rebuilds.get(name)
        return thread is not None and thread.is_alive()

    def rebuild(self, name: str) -> None:
        """Start rebuilding projection ``name`` in a background thread.

        Raises:
            ProjectionNotFound: No projection has this name.
            RebuildInProgress: This process is rebuilding it already.
            NotReady: The process is shutting down.
        """
        if name not in PROJECTIONS:
            known = ", ".join(PROJECTIONS)
            raise ProjectionNotFound(f"there is no projection {name!r} (known: {known})")
        with self._lock:
            if self._stop.is_set():
                raise NotReady("the server is stopping")
            running = self._rebuilds.get(name)
            if running is not None and running.is_alive():
                raise RebuildInProgress(f"projection {name!r} is being rebuilt already")
            thread = threading.Thread(
                target=self._rebuild, args=(name,), name=f"ledger-rebuild-{name}", daemon=True
            )
            self._rebuilds[name] = thread
            thread.start()

    def _rebuild(self, name: str) -> None:
        try:
            report = rebuild(
                self.ledger, self.views, name, drop_grace=self.drop_grace, stop=self._stop
            )
        except RebuildStopped:
            log.info("rebuild of %s stopped with the server; the next rebuild resumes it", name)
        except Exception:
            log.exception("rebuild of %s failed", name)
        else:
            log.info(
                "rebuilt %s as generation %d (%d events in %.1f s)",
                name,
                report.generations[name],
                report.events,
                report.seconds,
            )
