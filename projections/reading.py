"""Helpers every view query shares: a snapshot that survives a generation switch, the live
generation of a projection, and the journal's filter clauses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from projections import meta
from projections.base import Projection
from projections.store import Tx, ViewStore

__all__ = ["Live", "ProjectionNotReady", "journal_filter", "live", "reading"]

T = TypeVar("T")
_ATTEMPTS = 3

LIVE = (
    "SELECT g.live, t.position, t.last_event FROM {gens} g JOIN {tracking} t"
    " ON t.name = g.name AND t.generation = g.live WHERE g.name = ?"
)


class ProjectionNotReady(LookupError):
    """The projection's tables have not been installed (no runner has started yet)."""


@dataclass(frozen=True)
class Live:
    """The generation queries read, the position it reflects and its table names."""

    projection: Projection
    generation: int
    position: int
    last_event: int

    def table(self, part: str = "") -> str:
        return self.projection.table(part, self.generation)


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
    row = tx.one(
        tx.dialect.sql(LIVE, gens=meta.GENERATIONS, tracking=meta.TRACKING), (projection.name,)
    )
    if row is None:
        raise ProjectionNotReady(f"projection {projection.name!r} is not installed")
    return Live(projection, int(row[0]), int(row[1]), int(row[2]))


def journal_filter(
    tx: Tx,
    *,
    wallet_id: str | None,
    account: str | None,
    from_: datetime | None,
    to: datetime | None,
) -> tuple[str, list[Any]]:
    """``AND ...`` clauses (``?`` placeholders) and parameters for the journal's filters;
    ``from_``/``to`` select ``occurred_at`` in ``[from_, to)``, as in ``ledger.audit``."""
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
