"""Reconciliation: replay the log and compare every read model with it.

Within one read snapshot of the views, the log is folded up to each live generation's own
tracked position (they may differ by a batch), and at that point:

* the journal must equal :func:`ledger.audit.journal_rows` of every event, row for row,
  compared batch by batch (memory stays bounded by one batch), with no row beyond;
* balances, usage and budget status must equal :class:`~projections.fold.Fold`, an
  independent, event-at-a-time fold of the same rules;
* the trial balance must be zero per unit, in the balances, the daily movements and the
  journal; and every event must still pass the double-entry checks;
* a projection that reads usage (the meters' facts) must hold, per wallet, as many rows as
  the log recorded usage events.

The answer is a list of human-readable differences; an empty list means clean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.application import CreditLedgerBase
from ledger.audit import journal_rows
from projections import meta
from projections.base import InvariantViolation, Projection, check_change
from projections.catalog import JOURNAL, select
from projections.fold import Fold
from projections.log import MAX_BATCH, Batch, LogReader
from projections.store import Tx, ViewStore

__all__ = ["reconcile_views"]

JOURNAL_TAIL = "SELECT COUNT(*) FROM {t} WHERE position > ?"
JOURNAL_UNITS = "SELECT unit, SUM(debit), SUM(credit) FROM {t} GROUP BY unit"


@dataclass(frozen=True)
class _Target:
    projection: Projection
    generation: int
    position: int
    last_event: int


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
        row = None if gens is None else tracking.get((projection.name, gens.live))
        if gens is None or row is None:
            found.add(f"{projection.name}: not installed")
            continue
        targets.append(_Target(projection, gens.live, row.position, row.last_event))
    return sorted(targets, key=lambda t: t.position)


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
    view = JOURNAL.rows_between(tx, target.generation, after, batch.last)
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


def _check_target(
    tx: Tx, target: _Target, fold: Fold, facts: dict[str, int], found: _Differences
) -> None:
    name = target.projection.name
    if target.last_event != fold.last_event:
        found.add(f"{name}: last event {target.last_event}, the log gives {fold.last_event}")
    if target.projection is JOURNAL:
        sql = tx.dialect.sql(JOURNAL_TAIL, t=JOURNAL.table("", target.generation))
        row = tx.one(sql, (target.position,))
        if row and int(row[0]):
            found.add(f"journal: {row[0]} rows beyond its position {target.position}")
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


def _replay(
    tx: Tx,
    reader: LogReader,
    targets: list[_Target],
    batch_size: int,
    found: _Differences,
) -> None:
    fold = Fold()
    facts: dict[str, int] = {}  # usage events per wallet (decoded only if a view reads them)
    reads_usage = any(t.projection.reads_usage for t in targets)
    journal = next((t for t in targets if t.projection is JOURNAL), None)
    position = 0
    for target in targets:
        while position < target.position:
            batch = reader.read(position, batch_size, stop=target.position, check=False)
            if batch.count == 0:
                found.add(f"{target.projection.name}: position {target.position} is past the log")
                break
            for change in batch.changes:
                try:
                    check_change(change)
                except InvariantViolation as violation:
                    found.add(str(violation))
                fold.apply(change)
            for usage in batch.usage if reads_usage else ():
                wallet_id = str(usage.record["wallet_id"])
                facts[wallet_id] = facts.get(wallet_id, 0) + 1
            if journal is not None and batch.last <= journal.position:
                _compare_journal(tx, journal, position, batch, found)
            position = batch.last
        _check_target(tx, target, fold, facts, found)


def reconcile_views(
    app: CreditLedgerBase,
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
            _replay(tx, LogReader(app), targets, batch_size, found)
    except _NotInstalled:
        return [f"{projection.name}: not installed" for projection in select(names)]
    return found.result()
