"""How far the live views are: tracked positions per shard, and waiting for a position
(read-your-writes across processes, ``min_position`` on the reads of the API).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ledger.app.shards import decode_position, encode_position
from projections.engine import meta
from projections.engine.store import ViewStore

__all__ = [
    "live_positions",
    "live_shard_positions",
    "reached",
    "reached_position",
    "wait_for_position",
]


def live_shard_positions(
    views: ViewStore, names: Iterable[str] | None = None
) -> dict[str, dict[int, int]]:
    """Per live generation (of ``names``, default all installed), the notification id it
    has applied in each shard's log; empty while no runner has installed the views yet."""
    try:
        with views.read() as tx:
            generations = meta.read_generations(tx)
            tracking = meta.read_tracking(tx)
    except Exception as error:
        if views.is_missing_table(error):
            return {}
        raise
    wanted = list(generations) if names is None else list(names)
    found: dict[str, dict[int, int]] = {}
    for name in wanted:
        if name not in generations:
            continue
        rows = meta.shard_positions(tracking, name, generations[name].live)
        if 0 in rows:
            found[name] = {shard: row.position for shard, row in rows.items()}
    return found


def live_positions(views: ViewStore, names: Iterable[str] | None = None) -> dict[str, int]:
    """Tracked position of each live generation (of ``names``, default all installed):
    the sum over the shards' logs of the notification ids applied (so, unsharded, the
    notification id); empty while no runner has installed the views yet."""
    found = live_shard_positions(views, names)
    return {name: sum(by_shard.values()) for name, by_shard in found.items()}


def reached(positions: dict[str, dict[int, int]], wanted: list[str] | None, position: int) -> bool:
    """Have all ``wanted`` views (every one in ``positions`` if None) applied ``position``?"""
    if not positions or (wanted is not None and len(positions) < len(wanted)):
        return False
    shard, notification_id = decode_position(position)
    return all(by_shard.get(shard, -1) >= notification_id for by_shard in positions.values())


def reached_position(positions: dict[str, dict[int, int]], position: int) -> int:
    """How far the slowest of ``positions`` is in the shard of ``position`` (encoded)."""
    shard, _ = decode_position(position)
    return encode_position(shard, min((p.get(shard, 0) for p in positions.values()), default=0))


def wait_for_position(
    views: ViewStore, position: int, timeout: float, names: Iterable[str] | None = None
) -> bool:
    """Read-your-writes across processes: poll until every live view reached ``position``
    (an encoded position: the views must have applied that id of that shard's log)."""
    wanted = None if names is None else list(names)
    deadline = time.monotonic() + timeout
    while True:
        if reached(live_shard_positions(views, wanted), wanted, position):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, 0.02))
