"""Reconciliation: replay the log and compare every read model with it.

Within one read snapshot of the views, the log is folded up to each live generation's own
tracked position (they may differ by a batch), and at that point:

* the journal must equal :func:`ledger.app.audit.journal_rows` of every event, row for row,
  compared batch by batch (memory stays bounded by one batch), with no row beyond;
* balances, usage and budget status must equal :class:`~projections.engine.fold.Fold`, an
  independent, event-at-a-time fold of the same rules;
* the trial balance must be zero per unit, in the balances, the daily movements and the
  journal; and every event must still pass the double-entry checks;
* a projection that reads usage (the meters' facts) must hold, per wallet, as many rows as
  the log recorded usage events.

A sharded ledger has a log per shard and each generation a position in each: every log is
folded up to the lowest position any view has reached in it, once, and from there a copy of
that fold goes on to each view's own positions (the fold's rules do not depend on how the
shards' events interleave, see :mod:`projections.engine.fold`). The trial balance is checked over
all shards together.

The answer is a list of human-readable differences; an empty list means clean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.app.application import LedgerApplication
from ledger.app.audit import journal_rows
from ledger.app.shards import encode_position
from projections.catalog import JOURNAL, select
from projections.engine import meta
from projections.engine.base import InvariantViolation, Projection, check_change
from projections.engine.fold import Fold
from projections.engine.log import MAX_BATCH, Batch, LogReader, shard_readers
from projections.engine.reading import applied_clause
from projections.engine.store import Tx, ViewStore

__all__ = ["reconcile_views"]

JOURNAL_UNITS = "SELECT unit, SUM(debit), SUM(credit) FROM {t} GROUP BY unit"


@dataclass(frozen=True)
class _Target:
    projection: Projection
    generation: int
    positions: dict[int, int]  # per shard: the notification id applied
    last_events: dict[int, int]  # per shard: the (encoded) position of the last wallet event

    def at(self, shard: int) -> int:
        return self.positions.get(shard, 0)


@dataclass
class _State:
    """The fold of a prefix of every shard's log."""

    fold: Fold = field(default_factory=Fold)
    facts: dict[str, int] = field(default_factory=dict)  # usage events per wallet
    last_events: dict[int, int] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(self.fold.copy(), dict(self.facts), dict(self.last_events))


class _Differences:
    """Collects differences, keeping at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self.items: list[str] = []
        self.limit = limit
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(text)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        tail = [f"... and {self.dropped} more differences"] if self.dropped else []
        return self.items + tail


def _targets(tx: Tx, names: Iterable[str] | None, found: _Differences) -> list[_Target]:
    generations, tracking = meta.read_generations(tx), meta.read_tracking(tx)
    targets = []
    for projection in select(names):
        gens = generations.get(projection.name)
        rows = {} if gens is None else meta.shard_positions(tracking, projection.name, gens.live)
        if gens is None or 0 not in rows:
            found.add(f"{projection.name}: not installed")
            continue
        targets.append(
            _Target(
                projection,
                gens.live,
                {shard: row.position for shard, row in rows.items()},
                {shard: row.last_event for shard, row in rows.items()},
            )
        )
    return sorted(targets, key=lambda t: sum(t.positions.values()))


def _compare(
    name: str, view: dict[Any, Any], expected: dict[Any, Any], found: _Differences
) -> None:
    for key in sorted(set(view) | set(expected), key=repr):
        have, want = view.get(key, "<missing>"), expected.get(key, "<missing>")
        if have != want:
            found.add(f"{name} {key!r}: view has {have!r}, the log gives {want!r}")


def _compare_journal(
    tx: Tx, target: _Target, after: int, batch: Batch, found: _Differences
) -> None:
    expected = [
        row
        for change in batch.changes
        for row in journal_rows(change.position, change.event, change.wallet_id, change.unit)
    ]
    view = JOURNAL.rows_between(
        tx,
        target.generation,
        encode_position(batch.shard, after),
        encode_position(batch.shard, batch.last),
    )
    if view == expected:
        return
    keyed_view = _by_leg(view)
    keyed_expected = _by_leg(expected)
    _compare("journal row", keyed_view, keyed_expected, found)


def _by_leg(rows: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, Any]]:
    keyed: dict[tuple[int, int], dict[str, Any]] = {}
    legs: dict[int, int] = {}
    for row in rows:
        leg = legs[row["position"]] = legs.get(row["position"], -1) + 1
        keyed[(row["position"], leg)] = row
    return keyed


def _journal_tail(tx: Tx, target: _Target) -> tuple[str, list[int]]:
    """The statement counting journal rows beyond the positions ``target`` has applied."""
    applied, params = applied_clause(target.positions)
    sql = f"SELECT COUNT(*) FROM {{t}} WHERE NOT ({applied})"  # noqa: S608 - constant identifiers; values are parameters
    return tx.dialect.sql(sql, t=JOURNAL.table("", target.generation)), params


def _check_target(tx: Tx, target: _Target, state: _State, found: _Differences) -> None:
    name = target.projection.name
    fold, facts = state.fold, state.facts
    for shard in sorted(set(target.last_events) | set(state.last_events)):
        have, want = target.last_events.get(shard, 0), state.last_events.get(shard, 0)
        if have != want:
            found.add(f"{name}: last event {have}, the log gives {want}")
    if target.projection is JOURNAL:
        sql, params = _journal_tail(tx, target)
        row = tx.one(sql, params)
        if row and int(row[0]):
            where = target.positions[0] if set(target.positions) == {0} else target.positions
            found.add(f"journal: {row[0]} rows beyond its position {where}")
        units = tx.all(tx.dialect.sql(JOURNAL_UNITS, t=JOURNAL.table("", target.generation)))
        for unit, debit, credit in units:
            if int(debit) != int(credit):
                found.add(f"journal: {unit} debits {debit} != credits {credit}")
        return
    dump = target.projection.dump(tx, target.generation)
    if target.projection.reads_usage:
        _compare(f"{name}.facts", dump.get("facts", {}), facts, found)
    for table, expected in fold.expected(name).items():
        _compare(f"{name}.{table}", dump.get(table, {}), expected, found)
    for table in ("balances", "days"):
        _check_zero(f"{name}.{table}", dump.get(table, {}).values(), found)


def _check_zero(name: str, rows: Iterable[tuple[Any, ...]], found: _Differences) -> None:
    sums: dict[str, list[int]] = {}
    for row in rows:
        unit_sums = sums.setdefault(row[0], [0, 0])
        unit_sums[0] += row[1]
        unit_sums[1] += row[2]
    for unit, (debit, credit) in sorted(sums.items()):
        if debit != credit:
            found.add(f"{name}: trial balance of {unit} is {debit - credit}, not zero")


class _NotInstalled(Exception):
    """The bookkeeping tables do not exist: no runner or rebuild has installed the views."""


@dataclass
class _Replay:
    """Folds ranges of the shards' logs, checking each event once."""

    tx: Tx
    readers: list[LogReader]
    batch_size: int
    reads_usage: bool
    found: _Differences
    checked: set[int] | None = None
    """Positions checked beyond the common fold (None while in it: each is seen once there)."""

    def fold(
        self, state: _State, shard: int, after: int, upto: int, journal: _Target | None
    ) -> None:
        """Fold shard ``shard``'s notifications in ``(after, upto]`` into ``state``,
        comparing the journal's rows of that range when ``journal`` is given."""
        reader = self.readers[shard]
        position = after
        while position < upto:
            batch = reader.read(position, self.batch_size, stop=upto, check=False)
            if batch.count == 0:
                self.found.add(f"position {upto} of shard {shard} is past the log")
                break
            for change in batch.changes:
                if self._first_check(change.position):
                    try:
                        check_change(change)
                    except InvariantViolation as violation:
                        self.found.add(str(violation))
                state.fold.apply(change)
                state.last_events[shard] = change.position
            for usage in batch.usage if self.reads_usage else ():
                wallet_id = str(usage.record["wallet_id"])
                state.facts[wallet_id] = state.facts.get(wallet_id, 0) + 1
            if journal is not None:
                _compare_journal(self.tx, journal, position, batch, self.found)
            position = batch.last

    def _first_check(self, position: int) -> bool:
        if self.checked is None:
            return True
        if position in self.checked:
            return False  # the views' own folds past the common one overlap
        self.checked.add(position)
        return True


def _replay(
    tx: Tx,
    readers: list[LogReader],
    targets: list[_Target],
    batch_size: int,
    found: _Differences,
) -> None:
    if not targets:
        return
    reads_usage = any(t.projection.reads_usage for t in targets)
    replay = _Replay(tx, readers, batch_size, reads_usage, found)
    journal = next((t for t in targets if t.projection is JOURNAL), None)
    shards = range(len(readers))
    # The prefix every view has applied, folded once; then each view's own few batches more.
    common = {shard: min(t.at(shard) for t in targets) for shard in shards}
    state = _State()
    for shard in shards:
        replay.fold(state, shard, 0, common[shard], journal)
    replay.checked = set()
    for target in targets:
        own = state.copy()
        for shard in shards:
            mine = journal if target is journal else None
            replay.fold(own, shard, common[shard], target.at(shard), mine)
        _check_target(tx, target, own, found)


def reconcile_views(
    app: LedgerApplication,
    views: ViewStore,
    *,
    names: Iterable[str] | None = None,
    batch_size: int = MAX_BATCH,
    max_differences: int = 100,
) -> list[str]:
    """Differences between the live views (all, or ``names``) and a replay of the log
    (each projection ``not installed`` before any runner or rebuild has run)."""
    found = _Differences(max_differences)
    try:
        with views.read() as tx:
            try:
                targets = _targets(tx, names, found)
            except Exception as error:
                if views.is_missing_table(error):
                    raise _NotInstalled from error
                raise
            _replay(tx, shard_readers(app), targets, batch_size, found)
    except _NotInstalled:
        return [f"{projection.name}: not installed" for projection in select(names)]
    return found.result()
