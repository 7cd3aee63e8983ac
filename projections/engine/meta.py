"""Bookkeeping tables shared by all projections: generations, tracking and heartbeats.

* ``projection_generations``: per projection name, the ``live`` generation queries read
  and the generation ``building`` beside it during a rebuild (NULL otherwise).
* ``projection_tracking``: one row per (projection, generation) and shard of the ledger:
  the last notification id of that shard's log applied (``position``, a plain id), the
  last wallet event among them (``last_event``, an encoded position, see
  :func:`ledger.app.shards.encode_position`, which the journal's paging needs) and when it
  moved. Shard 0 is tracked under the projection's name, shard ``k`` > 0 under
  ``<name>#<k>`` (:func:`tracking_name`): an unsharded ledger has exactly the rows it had
  before shards existed. It is updated in the same transaction as the
  view rows, with a compare-and-set on the old position, so two writers of one generation
  can never both apply a batch.
* ``projection_workers``: a heartbeat per projection name from the running worker, which
  is how the status tells ``running`` from ``stopped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from projections.engine.base import Projection
from projections.engine.store import Tx

__all__ = [
    "Generations",
    "Tracking",
    "TrackingConflict",
    "advance",
    "heartbeat",
    "insert_tracking",
    "install",
    "lock_tracking",
    "read_generations",
    "read_heartbeats",
    "read_tracking",
    "shard_positions",
    "split_tracking_name",
    "tracking_name",
]

GENERATIONS = "projection_generations"
TRACKING = "projection_tracking"
WORKERS = "projection_workers"
_NAMES = {"gens": GENERATIONS, "tracking": TRACKING, "workers": WORKERS}

CREATE_META = (
    "CREATE TABLE IF NOT EXISTS {gens} (name TEXT PRIMARY KEY, live INTEGER NOT NULL,"
    " building INTEGER, switched_at {ts})",
    "CREATE TABLE IF NOT EXISTS {tracking} (name TEXT NOT NULL, generation INTEGER NOT NULL,"
    " position {bigint} NOT NULL, last_event {bigint} NOT NULL, updated_at {ts} NOT NULL,"
    " PRIMARY KEY (name, generation))",
    "CREATE TABLE IF NOT EXISTS {workers} (name TEXT PRIMARY KEY, worker TEXT NOT NULL,"
    " heartbeat_at {ts} NOT NULL)",
)
# Serialises concurrent installs on PostgreSQL, where CREATE TABLE IF NOT EXISTS can still
# race on the catalog; SQLite's BEGIN IMMEDIATE already serialises them.
PG_INSTALL_LOCK = "SELECT pg_advisory_xact_lock(7265484170524017)"
INSERT_GENERATION = "INSERT INTO {gens} (name, live) VALUES (?, 1) ON CONFLICT (name) DO NOTHING"
SELECT_GENERATIONS = "SELECT name, live, building FROM {gens} ORDER BY name"
INSERT_TRACKING = (
    "INSERT INTO {tracking} (name, generation, position, last_event, updated_at)"
    " VALUES (?, ?, 0, 0, ?) ON CONFLICT (name, generation) DO NOTHING"
)
SELECT_TRACKING = "SELECT name, generation, position, last_event, updated_at FROM {tracking}"
LOCK_TRACKING = (
    "SELECT position, last_event FROM {tracking} WHERE name = ? AND generation = ?{for_update}"
)
ADVANCE = (
    "UPDATE {tracking} SET position = ?, last_event = ?, updated_at = ?"
    " WHERE name = ? AND generation = ? AND position = ?"
)
HEARTBEAT = (
    "INSERT INTO {workers} AS cur (name, worker, heartbeat_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET worker = excluded.worker,"
    " heartbeat_at = excluded.heartbeat_at"
)
SELECT_HEARTBEATS = "SELECT name, worker, heartbeat_at FROM {workers}"


def tracking_name(name: str, shard: int) -> str:
    """The tracking row name of projection ``name`` for ``shard`` of the ledger."""
    return name if shard == 0 else f"{name}#{shard}"


def split_tracking_name(tracked: str) -> tuple[str, int]:
    """``(projection name, shard)`` of a tracking row name."""
    name, mark, shard = tracked.partition("#")
    return (name, int(shard)) if mark else (name, 0)


class TrackingConflict(Exception):
    """Another writer moved this generation's position first; re-read and go on."""


@dataclass(frozen=True)
class Generations:
    live: int
    building: int | None


@dataclass(frozen=True)
class Tracking:
    position: int
    last_event: int
    updated_at: datetime


def _sql(tx: Tx, template: str) -> str:
    return tx.dialect.sql(template, **_NAMES)


def install(tx: Tx, projections: Iterable[Projection], now: datetime, *, shards: int = 1) -> None:
    """Create the bookkeeping tables, a live generation 1 for new projections, and a
    tracking row per shard (of ``shards``) for each of their generations."""
    if tx.dialect.is_postgres:
        tx.execute(PG_INSTALL_LOCK)
    for statement in CREATE_META:
        tx.execute(_sql(tx, statement))
    for projection in projections:
        tx.execute(_sql(tx, INSERT_GENERATION), (projection.name,))
        gens = read_generations(tx)[projection.name]
        for generation in (gens.live, gens.building):
            if generation is not None:
                projection.create(tx, generation)
                insert_tracking(tx, projection.name, generation, now, shards=shards)


def insert_tracking(tx: Tx, name: str, generation: int, now: datetime, *, shards: int) -> None:
    """Tracking rows at position 0 for every shard of one generation (existing ones stay)."""
    tx.executemany(
        _sql(tx, INSERT_TRACKING),
        [(tracking_name(name, k), generation, tx.dialect.to_db(now)) for k in range(shards)],
    )


def read_generations(tx: Tx, *, lock: bool = False) -> dict[str, Generations]:
    """Live and building generation per projection name; ``lock`` holds them (FOR SHARE)
    until the transaction ends, so a generation switch waits for batches in flight."""
    sql = _sql(tx, SELECT_GENERATIONS + ("{for_share}" if lock else ""))
    return {name: Generations(live, building) for name, live, building in tx.all(sql)}


def read_tracking(tx: Tx) -> dict[tuple[str, int], Tracking]:
    return {
        (name, generation): Tracking(position, last_event, tx.dialect.from_db(updated))
        for name, generation, position, last_event, updated in tx.all(_sql(tx, SELECT_TRACKING))
    }


def shard_positions(
    tracking: dict[tuple[str, int], Tracking], name: str, generation: int
) -> dict[int, Tracking]:
    """The tracking rows of one generation of projection ``name``, by shard."""
    found: dict[int, Tracking] = {}
    for (tracked, gen), row in tracking.items():
        if gen != generation:
            continue
        base, shard = split_tracking_name(tracked)
        if base == name:
            found[shard] = row
    return found


def lock_tracking(tx: Tx, name: str, generation: int) -> tuple[int, int] | None:
    """(position, last_event) of one generation, its row locked until the end of ``tx``."""
    row = tx.one(_sql(tx, LOCK_TRACKING), (name, generation))
    return None if row is None else (int(row[0]), int(row[1]))


def advance(
    tx: Tx, name: str, generation: int, *, old: int, new: int, last_event: int, now: datetime
) -> None:
    """Move a generation's position from ``old`` to ``new`` (compare-and-set)."""
    changed = tx.execute(
        _sql(tx, ADVANCE), (new, last_event, tx.dialect.to_db(now), name, generation, old)
    )
    if changed != 1:
        raise TrackingConflict(f"{name} generation {generation} moved from position {old}")


def heartbeat(tx: Tx, names: Iterable[str], worker: str, now: datetime) -> None:
    tx.executemany(_sql(tx, HEARTBEAT), [(name, worker, tx.dialect.to_db(now)) for name in names])


def read_heartbeats(tx: Tx) -> dict[str, tuple[str, datetime]]:
    return {
        name: (worker, tx.dialect.from_db(at))
        for name, worker, at in tx.all(_sql(tx, SELECT_HEARTBEATS))
    }
