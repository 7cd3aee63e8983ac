"""The projection runner: tail the notification log and keep the live views up to date.

One step reads, from each shard's log in turn (see :mod:`ledger.app.shards`; an unsharded
ledger has one), up to ``batch_size`` (<= 1000) notifications after the lowest tracked
position of the live generations for that shard, decodes and checks them once, and then,
in ONE view transaction, applies each projection's share of the batch and moves each one's
tracking row for that shard (compare-and-set on the old position). A crash at any point
either loses the whole batch with its positions (it is read again) or keeps both: nothing
is missed or doubled, so handlers need no idempotency of their own. Every shard gets one
batch per step, so a busy shard cannot starve the others, and a shard whose batch fails
does not hold the others back (the step raises its error after the others had their turn).

Shards are independent logs: a view applies each one in its order, so one wallet's events
(all in one shard) keep their order, but events of two shards interleave as the batches
happen to come. The alerts projection, which merges the wallet events with the webhook
configuration (shard 0) and alert settings (the wallet's shard), may therefore see a
webhook change before or after a wallet event of another shard that was recorded a moment
earlier or later; that is accepted (the two were concurrent writes to separate stores).

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

from ledger.app.application import LedgerApplication
from ledger.app.shards import encode_position
from projections.catalog import select
from projections.engine import meta
from projections.engine.base import Projection
from projections.engine.log import MAX_BATCH, Batch, shard_readers
from projections.engine.store import ViewStore
from projections.positions import live_positions, live_shard_positions, reached

__all__ = [
    "ProjectionRunner",
    "Target",
    "apply_batch",
    "backoff_delay",
    "install_views",
    "utc_now",
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
    """One generation of one projection to bring forward in one shard's log, and where it
    stands there (``position``: a notification id of that log)."""

    projection: Projection
    generation: int
    position: int
    building: bool = False
    shard: int = 0

    @property
    def tracked(self) -> str:
        """The name of its tracking row."""
        return meta.tracking_name(self.projection.name, self.shard)


def apply_batch(views: ViewStore, targets: Sequence[Target], batch: Batch, now: datetime) -> None:
    """Apply ``batch`` to every target and move their positions, all in one transaction.

    The targets are those of the batch's shard. Raises
    :class:`~projections.engine.meta.TrackingConflict` (and writes nothing) if a target's
    generation is no longer the live (or building) one, or its position moved meanwhile.
    """
    with views.write() as tx:
        # Held until commit: a rebuild cannot switch generations under this batch.
        generations = meta.read_generations(tx, lock=True)
        for target in targets:
            if target.shard != batch.shard:
                raise ValueError(f"a batch of shard {batch.shard} for a target of {target.shard}")
            name = target.projection.name
            current = generations.get(name)
            expected = (
                None if current is None else (current.building if target.building else current.live)
            )
            if expected != target.generation:
                raise meta.TrackingConflict(f"{name} generation {target.generation} is not current")
            tracking = meta.lock_tracking(tx, target.tracked, target.generation)
            if tracking is None or tracking[0] != target.position:
                raise meta.TrackingConflict(
                    f"{target.tracked} generation {target.generation} has moved"
                )
            if batch.last <= target.position:
                continue
            # Changes carry encoded positions; the target's is a plain id of the batch's log.
            seen = encode_position(batch.shard, target.position)
            changes = [c for c in batch.changes if c.position > seen]
            if target.projection.reads_others:
                others = [o for o in batch.others if o.position > seen]
                target.projection.apply_with_others(tx, target.generation, changes, others)
            else:
                target.projection.apply(tx, target.generation, changes)
            if target.projection.reads_usage:
                usage = [u for u in batch.usage if u.position > seen]
                target.projection.apply_usage(tx, target.generation, usage)
            meta.advance(
                tx,
                target.tracked,
                target.generation,
                old=target.position,
                new=batch.last,
                last_event=max(tracking[1], changes[-1].position if changes else 0),
                now=now,
            )


def install_views(
    views: ViewStore,
    names: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    shards: int = 1,
) -> None:
    """Create the views' tables if missing (idempotent): lets an API answer (from empty
    views) before the first worker has started. ``shards``: the ledger's shard count."""
    with views.write() as tx:
        meta.install(tx, select(names), now or utc_now(), shards=shards)


class ProjectionRunner:
    """Keeps the live generation of each projection up to date with the ledger's log."""

    def __init__(
        self,
        app: LedgerApplication,
        views: ViewStore,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = MAX_BATCH,
        poll_interval: float = POLL_INTERVAL_S,
        max_backoff: float = MAX_BACKOFF_S,
        clock: Callable[[], datetime] = utc_now,
        worker: str | None = None,
        step_interval: float = 0.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.app = app
        self.views = views
        self.projections = list(projections) if projections is not None else select()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # Why: a step per commit costs two view transactions and a statement per touched
        # row; gathering the commits of ``step_interval`` into one step costs the same.
        self.step_interval = step_interval
        self.max_backoff = max_backoff
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.readers = shard_readers(app)
        self.reader = self.readers[0]  # the home shard's (the only one when unsharded)
        self._installed = False
        self._full = False  # whether the last step read a full batch from some shard
        self._advanced = threading.Condition()
        self._last_beat = 0.0

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projections]

    def install(self) -> None:
        """Create the bookkeeping tables and any missing live generation (idempotent)."""
        with self.views.write() as tx:
            meta.install(tx, self.projections, self.clock(), shards=len(self.readers))
        self._installed = True

    def targets(self, shard: int = 0) -> list[Target]:
        """The live generation of each projection and its tracked position in ``shard``."""
        return self.shard_targets()[shard]

    def shard_targets(self) -> list[list[Target]]:
        """Per shard, the live generation of each projection and its tracked position."""
        if not self._installed:
            self.install()
        with self.views.read() as tx:
            generations = meta.read_generations(tx)
            tracking = meta.read_tracking(tx)
        per_shard: list[list[Target]] = []
        for shard in range(len(self.readers)):
            targets = []
            for projection in self.projections:
                live = generations[projection.name].live
                row = tracking[(meta.tracking_name(projection.name, shard), live)]
                targets.append(Target(projection, live, row.position, shard=shard))
            per_shard.append(targets)
        return per_shard

    def positions(self) -> dict[str, int]:
        """Where each live view stands (read only: installs nothing); see
        :func:`live_positions`."""
        return live_positions(self.views, self.names)

    def step(self) -> int:
        """Apply one batch per shard; returns how many notifications they held (0 at the
        head of every shard)."""
        consumed = 0
        full = False
        failure: Exception | None = None
        for shard, targets in enumerate(self.shard_targets()):
            try:
                count = self._step_shard(shard, targets)
            except Exception as error:  # the other shards still get their batch
                failure = failure or error
                continue
            consumed += count
            full = full or count >= self.batch_size
        self._full = full
        if consumed:
            with self._advanced:
                self._advanced.notify_all()
        if failure is not None:
            raise failure
        return consumed

    def _step_shard(self, shard: int, targets: list[Target]) -> int:
        batch = self.readers[shard].read(min(t.position for t in targets), self.batch_size)
        if batch.count == 0:
            return 0
        try:
            apply_batch(self.views, targets, batch, self.clock())
        except meta.TrackingConflict as conflict:
            # Another writer (a second worker, or a rebuild switch) got there first: the
            # next step re-reads where every generation stands.
            log.info("batch superseded, re-reading positions: %s", conflict)
        return batch.count

    def catch_up(self) -> int:
        """Apply batches until every live view has reached the heads seen at the start."""
        heads = [reader.head() for reader in self.readers]
        consumed = 0
        while any(
            min(t.position for t in targets) < heads[shard]
            for shard, targets in enumerate(self.shard_targets())
        ):
            count = self.step()
            if count == 0:
                break
            consumed += count
        return consumed

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every live view has applied ``position`` (encoded: an id of one
        shard's log) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not reached(live_shard_positions(self.views, self.names), self.names, position):
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

    @staticmethod
    def _pause_until(moment: float, stop: threading.Event) -> None:
        pause = moment - time.monotonic()
        if pause > 0:
            stop.wait(pause)

    def run_forever(self, stop: threading.Event) -> None:
        """Follow the log until ``stop`` is set; never gives up on errors (logs, backs off)."""
        channels = [getattr(r.app.recorder, "channel_name", None) for r in self.readers]
        waker = self.views.waker([channel for channel in channels if channel])
        failures = 0
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.step()
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
                if not self._full:  # no shard has more waiting right now
                    waker.wait(self.poll_interval, stop)
                    self._pause_until(started + self.step_interval, stop)
        finally:
            waker.close()
