"""The projection runner: tail the notification log and keep the live views up to date.

One step reads up to ``batch_size`` (<= 1000) notifications after the lowest tracked
position of the live generations, decodes and checks them once, and then, in ONE view
transaction, applies each projection's share of the batch and moves each one's tracking
row (compare-and-set on the old position). A crash at any point either loses the whole
batch with its positions (it is read again) or keeps both: nothing is missed or doubled,
so handlers need no idempotency of their own.

:meth:`ProjectionRunner.run_forever` is supervised: every error is logged and retried after
a capped, jittered exponential backoff, and the loop only ends when ``stop`` is set. When
idle it waits for the events table's NOTIFY on PostgreSQL, else it polls.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.application import CreditLedgerBase
from projections import meta
from projections.base import Projection
from projections.catalog import select
from projections.log import MAX_BATCH, Batch, LogReader
from projections.store import ViewStore

__all__ = [
    "ProjectionRunner",
    "Target",
    "apply_batch",
    "backoff_delay",
    "install_views",
    "live_positions",
    "utc_now",
    "wait_for_position",
]

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1
MAX_BACKOFF_S = 30.0
HEARTBEAT_EVERY_S = 1.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Capped exponential backoff with jitter, so restarting workers do not stampede."""
    ceiling = min(cap, base * 2 ** min(failures, 32))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class Target:
    """One generation of one projection to bring forward, and where it stands."""

    projection: Projection
    generation: int
    position: int
    building: bool = False


def apply_batch(views: ViewStore, targets: Sequence[Target], batch: Batch, now: datetime) -> None:
    """Apply ``batch`` to every target and move their positions, all in one transaction.

    Raises :class:`~projections.meta.TrackingConflict` (and writes nothing) if a target's
    generation is no longer the live (or building) one, or its position moved meanwhile.
    """
    with views.write() as tx:
        # Held until commit: a rebuild cannot switch generations under this batch.
        generations = meta.read_generations(tx, lock=True)
        for target in targets:
            name = target.projection.name
            current = generations.get(name)
            expected = (
                None if current is None else (current.building if target.building else current.live)
            )
            if expected != target.generation:
                raise meta.TrackingConflict(f"{name} generation {target.generation} is not current")
            tracking = meta.lock_tracking(tx, name, target.generation)
            if tracking is None or tracking[0] != target.position:
                raise meta.TrackingConflict(f"{name} generation {target.generation} has moved")
            if batch.last <= target.position:
                continue
            changes = [c for c in batch.changes if c.position > target.position]
            if target.projection.reads_others:
                others = [o for o in batch.others if o.position > target.position]
                target.projection.apply_with_others(tx, target.generation, changes, others)
            else:
                target.projection.apply(tx, target.generation, changes)
            if target.projection.reads_usage:
                usage = [u for u in batch.usage if u.position > target.position]
                target.projection.apply_usage(tx, target.generation, usage)
            meta.advance(
                tx,
                name,
                target.generation,
                old=target.position,
                new=batch.last,
                last_event=max(tracking[1], changes[-1].position if changes else 0),
                now=now,
            )


def install_views(
    views: ViewStore, names: Iterable[str] | None = None, *, now: datetime | None = None
) -> None:
    """Create the views' tables if missing (idempotent): lets an API answer (from empty
    views) before the first worker has started."""
    with views.write() as tx:
        meta.install(tx, select(names), now or utc_now())


def live_positions(views: ViewStore, names: Iterable[str] | None = None) -> dict[str, int]:
    """Tracked position of each live generation (of ``names``, default all installed);
    empty while no runner has installed the views yet."""
    try:
        with views.read() as tx:
            generations = meta.read_generations(tx)
            tracking = meta.read_tracking(tx)
    except Exception as error:
        if views.is_missing_table(error):
            return {}
        raise
    wanted = list(generations) if names is None else list(names)
    return {
        name: tracking[(name, generations[name].live)].position
        for name in wanted
        if name in generations and (name, generations[name].live) in tracking
    }


def _reached(positions: dict[str, int], wanted: list[str] | None, position: int) -> bool:
    if not positions or (wanted is not None and len(positions) < len(wanted)):
        return False
    return min(positions.values()) >= position


def wait_for_position(
    views: ViewStore, position: int, timeout: float, names: Iterable[str] | None = None
) -> bool:
    """Read-your-writes across processes: poll until every live view reached ``position``."""
    wanted = None if names is None else list(names)
    deadline = time.monotonic() + timeout
    while True:
        if _reached(live_positions(views, wanted), wanted, position):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, 0.02))


class ProjectionRunner:
    """Keeps the live generation of each projection up to date with the ledger's log."""

    def __init__(
        self,
        app: CreditLedgerBase,
        views: ViewStore,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = MAX_BATCH,
        poll_interval: float = POLL_INTERVAL_S,
        max_backoff: float = MAX_BACKOFF_S,
        clock: Callable[[], datetime] = utc_now,
        worker: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.app = app
        self.views = views
        self.projections = list(projections) if projections is not None else select()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.reader = LogReader(app)
        self._installed = False
        self._advanced = threading.Condition()
        self._last_beat = 0.0

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projections]

    def install(self) -> None:
        """Create the bookkeeping tables and any missing live generation (idempotent)."""
        with self.views.write() as tx:
            meta.install(tx, self.projections, self.clock())
        self._installed = True

    def targets(self) -> list[Target]:
        """The live generation of each projection and its tracked position."""
        if not self._installed:
            self.install()
        with self.views.read() as tx:
            generations = meta.read_generations(tx)
            tracking = meta.read_tracking(tx)
        targets = []
        for projection in self.projections:
            live = generations[projection.name].live
            targets.append(Target(projection, live, tracking[(projection.name, live)].position))
        return targets

    def positions(self) -> dict[str, int]:
        """Where each live view stands (read only: installs nothing)."""
        return live_positions(self.views, self.names)

    def step(self) -> int:
        """Apply one batch; returns how many notifications it consumed (0 at the head)."""
        targets = self.targets()
        batch = self.reader.read(min(t.position for t in targets), self.batch_size)
        if batch.count == 0:
            return 0
        try:
            apply_batch(self.views, targets, batch, self.clock())
        except meta.TrackingConflict as conflict:
            # Another writer (a second worker, or a rebuild switch) got there first: the
            # next step re-reads where every generation stands.
            log.info("batch superseded, re-reading positions: %s", conflict)
        with self._advanced:
            self._advanced.notify_all()
        return batch.count

    def catch_up(self) -> int:
        """Apply batches until every live view has reached the head seen at the start."""
        head = self.reader.head()
        consumed = 0
        while min(t.position for t in self.targets()) < head:
            count = self.step()
            if count == 0:
                break
            consumed += count
        return consumed

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every live view has applied ``position`` (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while not _reached(self.positions(), self.names, position):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Woken by this runner's own commits; the timeout covers a runner elsewhere.
            with self._advanced:
                self._advanced.wait(min(remaining, 0.05))
        return True

    def _beat(self) -> None:
        if time.monotonic() - self._last_beat < HEARTBEAT_EVERY_S:
            return
        with self.views.write() as tx:
            meta.heartbeat(tx, self.names, self.worker, self.clock())
        self._last_beat = time.monotonic()

    def run_forever(self, stop: threading.Event) -> None:
        """Follow the log until ``stop`` is set; never gives up on errors (logs, backs off)."""
        waker = self.views.waker(getattr(self.app.recorder, "channel_name", None))
        failures = 0
        try:
            while not stop.is_set():
                try:
                    consumed = self.step()
                    self._beat()
                except Exception:
                    failures += 1
                    delay = backoff_delay(failures, self.poll_interval, self.max_backoff)
                    log.exception(
                        "projection step failed (%d in a row); retry in %.2fs", failures, delay
                    )
                    stop.wait(delay)
                    continue
                if failures:
                    log.info("projection runner recovered after %d failures", failures)
                failures = 0
                if consumed < self.batch_size:
                    waker.wait(self.poll_interval, stop)
        finally:
            waker.close()
