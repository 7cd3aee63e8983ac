"""Rebuild a projection without downtime: blue/green generations of its tables.

1. **Start**: create generation N+1 (``<name>_g<N+1>`` tables and a tracking row at 0) and
   record it as ``building``. Queries keep reading the live generation N, and the worker
   keeps it current.
2. **Build**: apply the log from position 0 in batches; each batch and the new generation's
   tracking position commit together, so a crashed rebuild resumes where it stopped. A
   sharded ledger's logs are built together, one batch per shard in turn, each shard
   tracked on its own row of the new generation.
3. **Switch**: once a read finds nothing more in any shard's log, one transaction makes
   N+1 ``live`` (it waits
   for a worker batch in flight, which holds the generation rows FOR SHARE). From then on
   the worker maintains N+1 from its own tracking row, so nothing is skipped or doubled.
4. **Drop** generation N after a grace period; a query that still resolved N retries on
   the missing table (see :mod:`projections.queries`).

A ``stop`` event set during the build ends it between two batches with
:class:`RebuildStopped`; the unfinished generation is resumed by the next rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.app.application import LedgerApplication
from projections.catalog import select
from projections.engine import meta
from projections.engine.base import Projection
from projections.engine.log import MAX_BATCH, LogReader, shard_readers
from projections.engine.store import Tx, ViewStore
from projections.runner import Target, apply_batch, utc_now

__all__ = [
    "RebuildReport",
    "RebuildStopped",
    "build",
    "drop_generation",
    "rebuild",
    "start_generation",
    "switch",
]

log = logging.getLogger(__name__)

LOCK_GENERATION = "SELECT live, building FROM {gens} WHERE name = ?{for_update}"
HIGHEST_GENERATION = "SELECT MAX(generation) FROM {tracking} WHERE name = ?"
SET_BUILDING = "UPDATE {gens} SET building = ? WHERE name = ?"
SWITCH = (
    "UPDATE {gens} SET live = ?, building = NULL, switched_at = ? WHERE name = ? AND building = ?"
)
DELETE_TRACKING = "DELETE FROM {tracking} WHERE name = ? AND generation = ?"
SELECT_TRACKED = "SELECT name FROM {tracking} WHERE generation = ?"


class RebuildStopped(Exception):
    """The rebuild was asked to stop before it switched; the next one resumes it."""


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did and how long it took (building, not counting ``drop_grace``)."""

    generations: dict[str, int]
    previous: dict[str, int]
    notifications: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def _sql(tx: Tx, template: str) -> str:
    return tx.dialect.sql(template, gens=meta.GENERATIONS, tracking=meta.TRACKING)


def _lock(tx: Tx, name: str) -> tuple[int, int | None]:
    row = tx.one(_sql(tx, LOCK_GENERATION), (name,))
    if row is None:
        raise LookupError(f"projection {name!r} is not installed")
    return int(row[0]), None if row[1] is None else int(row[1])


def _delete_tracking(tx: Tx, name: str, generation: int) -> None:
    """Delete one generation's tracking rows, every shard's."""
    for (tracked,) in tx.all(_sql(tx, SELECT_TRACKED), (generation,)):
        if meta.split_tracking_name(str(tracked))[0] == name:
            tx.execute(_sql(tx, DELETE_TRACKING), (tracked, generation))


def start_generation(
    views: ViewStore,
    projection: Projection,
    now: datetime,
    *,
    restart: bool = False,
    shards: int = 1,
) -> int:
    """Create the next generation beside the live one, or resume an unfinished one;
    ``shards`` is the ledger's shard count (a tracking row each)."""
    name = projection.name
    with views.write() as tx:
        meta.install(tx, [projection], now, shards=shards)
        live, building = _lock(tx, name)
        if building is not None and not restart:
            log.info("resuming rebuild of %s generation %d", name, building)
            return building
        if building is not None:
            projection.drop(tx, building)
            _delete_tracking(tx, name, building)
        row = tx.one(_sql(tx, HIGHEST_GENERATION), (name,))
        generation = max(live, int(row[0]) if row and row[0] is not None else 0) + 1
        projection.create(tx, generation)
        meta.insert_tracking(tx, name, generation, now, shards=shards)
        tx.execute(_sql(tx, SET_BUILDING), (generation, name))
        return generation


def build(
    reader: LogReader | Iterable[LogReader],
    views: ViewStore,
    generations: dict[Projection, int],
    *,
    batch_size: int = MAX_BATCH,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
) -> tuple[int, int]:
    """Bring building generations to the heads of ``reader`` (one, or one per shard)
    together, decoding each batch once; returns (notifications, wallet events) read.
    Raises :class:`RebuildStopped` once ``stop`` is set."""
    readers = [reader] if isinstance(reader, LogReader) else list(reader)
    notifications = events = 0
    while True:
        read = 0
        for shard_reader in readers:
            if stop is not None and stop.is_set():
                raise RebuildStopped(f"stopped after {notifications} notifications")
            batch = _build_batch(shard_reader, views, generations, batch_size, clock)
            read += batch[0]
            notifications += batch[0]
            events += batch[1]
        if read == 0:
            return notifications, events


def _build_batch(
    reader: LogReader,
    views: ViewStore,
    generations: dict[Projection, int],
    batch_size: int,
    clock: Callable[[], datetime],
) -> tuple[int, int]:
    """One batch of ``reader``'s shard into the building generations: (notifications,
    wallet events) applied."""
    with views.read() as tx:
        tracking = meta.read_tracking(tx)
    targets = []
    for projection, generation in generations.items():
        tracked = meta.tracking_name(projection.name, reader.shard)
        row = tracking.get((tracked, generation))
        if row is None:
            raise LookupError(f"{tracked} generation {generation} has no tracking")
        targets.append(
            Target(projection, generation, row.position, building=True, shard=reader.shard)
        )
    batch = reader.read(min(t.position for t in targets), batch_size)
    if batch.count == 0:
        return 0, 0
    apply_batch(views, targets, batch, clock())
    return batch.count, len(batch.changes)


def switch(views: ViewStore, projection: Projection, generation: int, now: datetime) -> int:
    """Make ``generation`` live; returns the generation it replaced."""
    with views.write() as tx:
        live, building = _lock(tx, projection.name)
        if building != generation:
            raise meta.TrackingConflict(f"{projection.name} is not building {generation}")
        tx.execute(
            _sql(tx, SWITCH), (generation, tx.dialect.to_db(now), projection.name, generation)
        )
        return live


def drop_generation(views: ViewStore, projection: Projection, generation: int) -> None:
    """Drop a generation's tables and its tracking row.

    The generation rows are read without a lock: a retired generation never becomes live
    again, and holding them while DROP waits for slow readers of the old tables would
    stall the worker's batches (which hold them FOR SHARE) for as long.
    """
    with views.write() as tx:
        gens = meta.read_generations(tx).get(projection.name)
        if gens is not None and generation in (gens.live, gens.building):
            raise ValueError(f"{projection.name} generation {generation} is in use")
        projection.drop(tx, generation)
        _delete_tracking(tx, projection.name, generation)


def rebuild(
    app: LedgerApplication,
    views: ViewStore,
    names: str | Sequence[str],
    *,
    batch_size: int = MAX_BATCH,
    drop_grace: float = 1.0,
    restart: bool = False,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
) -> RebuildReport:
    """Rebuild one projection (or several, in one pass over the log) from position 0 beside
    the live generation, then switch reads to it and drop the old one. Every shard's log
    is built into the new generation before it switches.

    ``drop_grace`` seconds pass between the switch and dropping the old tables, for queries
    that resolved the old generation just before the switch. ``restart`` discards an
    unfinished earlier rebuild instead of resuming it. Setting ``stop`` ends the build
    early (:class:`RebuildStopped`) or cuts the grace period short.
    """
    projections = select([names] if isinstance(names, str) else names)
    started = time.perf_counter()
    readers = shard_readers(app)
    generations = {
        p: start_generation(views, p, clock(), restart=restart, shards=len(readers))
        for p in projections
    }
    notifications, events = build(
        readers, views, generations, batch_size=batch_size, clock=clock, stop=stop
    )
    previous = {p.name: switch(views, p, g, clock()) for p, g in generations.items()}
    seconds = time.perf_counter() - started
    built = {p.name: g for p, g in generations.items()}
    log.info("rebuilt %s: %d events in %.1fs", built, events, seconds)
    if drop_grace > 0 and stop is not None:
        stop.wait(drop_grace)
    elif drop_grace > 0:
        time.sleep(drop_grace)
    for projection in projections:
        drop_generation(views, projection, previous[projection.name])
    return RebuildReport(built, previous, notifications, events, seconds)
