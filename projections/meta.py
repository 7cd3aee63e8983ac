"""Bookkeeping tables shared by all projections: generations, tracking and heartbeats.

* ``projection_generations``: per projection name, the ``live`` generation queries read
  and the generation ``building`` beside it during a rebuild (NULL otherwise).
* ``projection_tracking``: one row per (projection, generation): the last notification id
  applied (``position``), the last wallet event among them (``last_event``, which the
  journal's paging needs) and when it moved. It is updated in the same transaction as the
  view rows, with a compare-and-set on the old position, so two writers of one generation
  can never both apply a batch.
* ``projection_workers``: a heartbeat per projection name from the running worker, which
  is how the status tells ``running`` from ``stopped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from projections.base import Projection
from projections.store import Tx

__all__ = [
    "Generations",
    "Tracking",
    "TrackingConflict",
    "advance",
    "heartbeat",
    "install",
    "lock_tracking",
    "read_generations",
    "read_heartbeats",
    "read_tracking",
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


def install(tx: Tx, projections: Iterable[Projection], now: datetime) -> None:
    """Create the bookkeeping tables, and a live generation 1 for new projections."""
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
                tx.execute(
                    _sql(tx, INSERT_TRACKING), (projection.name, generation, tx.dialect.to_db(now))
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
