"""Projection status for ``GET /v1/admin/projections`` and Prometheus gauges.

Per projection: the live generation's ``position``, the log ``head`` (highest notification
id), ``lag`` in events (``head - position``: zero exactly when caught up, otherwise an
upper bound, because ids burnt by rolled-back inserts leave gaps), ``lag_seconds`` (age of
the oldest notification not yet applied, from its recorded time) and ``status``:
``rebuilding`` while a new generation is being built, else ``running`` when a worker's
heartbeat is fresh, else ``stopped``.

A sharded ledger has a log per shard: ``position`` and ``head`` are then the sums over the
shards of the notification ids applied and of the highest ids (so ``lag`` still counts the
events not yet applied, and an unsharded ledger shows its one log as before), and
``lag_seconds`` is the worst shard's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ledger.app.application import LedgerApplication
from projections.catalog import select
from projections.engine import meta
from projections.engine.log import LogReader, shard_readers
from projections.engine.store import ViewStore
from projections.runner import utc_now

__all__ = ["STALE_AFTER", "projection_status"]

STALE_AFTER = timedelta(seconds=10)


def projection_status(
    app: LedgerApplication,
    views: ViewStore,
    *,
    clock: Callable[[], datetime] = utc_now,
    stale_after: timedelta = STALE_AFTER,
) -> list[dict[str, Any]]:
    """One entry per projection: name, generation, position, head, lag, lag_seconds,
    status, worker and, while rebuilding, the new generation's progress."""
    readers = shard_readers(app)
    heads = [reader.head() for reader in readers]
    head = sum(heads)
    try:
        with views.read() as tx:
            generations = meta.read_generations(tx)
            tracking = meta.read_tracking(tx)
            heartbeats = meta.read_heartbeats(tx)
    except Exception as error:
        if not views.is_missing_table(error):
            raise
        # No runner has installed the views yet: every projection is simply stopped at 0.
        generations, tracking, heartbeats = {}, {}, {}
    now = clock()
    entries = []
    for projection in select():
        name = projection.name
        gens = generations.get(name)
        live = {} if gens is None else meta.shard_positions(tracking, name, gens.live)
        positions = _per_shard(live, len(heads))
        position = sum(positions)
        beat = heartbeats.get(name)
        fresh = beat is not None and now - beat[1] <= stale_after
        building = None if gens is None or gens.building is None else gens.building
        status = "rebuilding" if building is not None else "running" if fresh else "stopped"
        entry: dict[str, Any] = {
            "name": name,
            "generation": None if gens is None else gens.live,
            "position": position,
            "head": head,
            "lag": _lag(heads, positions),
            "lag_seconds": max(
                _lag_seconds(reader, at, top, now)
                for reader, at, top in zip(readers, positions, heads, strict=True)
            ),
            "status": status,
            "worker": None if beat is None else beat[0],
            "rebuild": None,
        }
        if building is not None:
            progress = meta.shard_positions(tracking, name, building)
            built = _per_shard(progress, len(heads))
            entry["rebuild"] = {
                "generation": building,
                "position": sum(built),
                "lag": _lag(heads, built),
            }
        entries.append(entry)
    return entries


def _per_shard(rows: dict[int, meta.Tracking], shards: int) -> list[int]:
    """Each shard's position in ``rows`` (tracking rows by shard), 0 where it has none."""
    return [rows[k].position if k in rows else 0 for k in range(shards)]


def _lag(heads: list[int], positions: list[int]) -> int:
    return sum(max(0, head - position) for head, position in zip(heads, positions, strict=True))


def _lag_seconds(reader: LogReader, position: int, head: int, now: datetime) -> float:
    if position >= head:
        return 0.0
    recorded = reader.recorded_at(position)
    return 0.0 if recorded is None else max(0.0, (now - recorded).total_seconds())
