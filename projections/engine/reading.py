"""Helpers every view query shares: a snapshot that survives a generation switch, the live
generation of a projection, and the journal's filter clauses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ledger.app.shards import encode_position
from projections.engine import meta
from projections.engine.base import Projection
from projections.engine.store import Tx, ViewStore

__all__ = ["Live", "ProjectionNotReady", "applied_clause", "journal_filter", "live", "reading"]

T = TypeVar("T")
_ATTEMPTS = 3

# The live generation and its tracking rows: the name's (shard 0) and "<name>#<k>" for the
# other shards (see projections.engine.meta; names are checked again when read, as LIKE's "_"
# matches any character).
LIVE = (
    "SELECT g.live, t.name, t.position, t.last_event FROM {gens} g JOIN {tracking} t"
    " ON t.generation = g.live AND (t.name = g.name OR t.name LIKE ?)"
    " WHERE g.name = ?"
)


class ProjectionNotReady(LookupError):
    """The projection's tables have not been installed (no runner has started yet)."""


@dataclass(frozen=True)
class Live:
    """The generation queries read, the position it reflects and its table names.

    ``positions`` holds the notification id applied per shard of the ledger (just shard 0
    when unsharded); ``position`` is shard 0's and ``last_event`` the highest (encoded)
    position of a wallet event applied in any shard.
    """

    projection: Projection
    generation: int
    position: int
    last_event: int
    positions: dict[int, int] = field(default_factory=dict)

    def table(self, part: str = "") -> str:
        return self.projection.table(part, self.generation)

    def covers(self, other: Live) -> bool:
        """Whether this generation has applied at least what ``other`` has, in every shard."""
        return all(self.positions.get(k, 0) >= at for k, at in other.positions.items())

    def applied(self, column: str = "position") -> tuple[str, list[int]]:
        """A condition (``?`` placeholders) and its parameters: ``column`` (an encoded
        position) is one this generation has applied."""
        return applied_clause(self.positions, column)


def applied_clause(positions: dict[int, int], column: str = "position") -> tuple[str, list[int]]:
    """A condition (``?`` placeholders) and its parameters: ``column`` (an encoded position)
    is at most ``positions[shard]`` within its shard, for every shard in ``positions``."""
    if set(positions) == {0}:
        return f"{column} <= ?", [positions[0]]
    clauses, params = [], []
    for shard, at in sorted(positions.items()):
        clauses.append(f"({column} > ? AND {column} <= ?)")
        params += [encode_position(shard, 0), encode_position(shard, at)]
    return f"({' OR '.join(clauses)})", params


def reading(views: ViewStore, query: Callable[[Tx], T]) -> T:
    """Run ``query`` in one read snapshot.

    A rebuild may drop the generation a query resolved just before reading its tables (a
    rare, harmless race): the query is then run again on the new live generation. Tables
    missing every time mean the views were never installed.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with views.read() as tx:
                return query(tx)
        except Exception as error:
            if not views.is_missing_table(error):
                raise
            if attempt + 1 == _ATTEMPTS:
                raise ProjectionNotReady("the views are not installed (start a runner)") from error
    raise AssertionError("unreachable")  # pragma: no cover


def live(tx: Tx, projection: Projection) -> Live:
    """The live generation of ``projection`` as of this snapshot."""
    sql = tx.dialect.sql(LIVE, gens=meta.GENERATIONS, tracking=meta.TRACKING)
    generation, positions, last_event = None, {}, 0
    shards_like = f"{projection.name}#%"
    for live_generation, tracked, at, last in tx.all(sql, (shards_like, projection.name)):
        name, shard = meta.split_tracking_name(str(tracked))
        if name == projection.name:
            generation = int(live_generation)
            positions[shard] = int(at)
            last_event = max(last_event, int(last))
    if generation is None or 0 not in positions:
        raise ProjectionNotReady(f"projection {projection.name!r} is not installed")
    return Live(projection, generation, positions[0], last_event, positions)


def journal_filter(
    tx: Tx,
    *,
    wallet_id: str | None,
    account: str | None,
    from_: datetime | None,
    to: datetime | None,
) -> tuple[str, list[Any]]:
    """``AND ...`` clauses (``?`` placeholders) and parameters for the journal's filters;
    ``from_``/``to`` select ``occurred_at`` in ``[from_, to)``, as in ``ledger.app.audit``."""
    clauses: list[str] = []
    params: list[Any] = []
    if wallet_id is not None:
        clauses.append(" AND wallet_id = ?")
        params.append(wallet_id)
    if account is not None:
        clauses.append(" AND account = ?")
        params.append(account)
    if from_ is not None:
        clauses.append(" AND occurred_at >= ?")
        params.append(tx.dialect.to_db(from_))
    if to is not None:
        clauses.append(" AND occurred_at < ?")
        params.append(tx.dialect.to_db(to))
    return "".join(clauses), params
