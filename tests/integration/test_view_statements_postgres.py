"""The projection worker on PostgreSQL writes a batch with a few statements, not one per row.

Each view table is written with multi-row statements (``Tx.insert_many``) and the alerts
projection reads the batch's wallets at once (``Tx.all_in``); the views still equal the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ledger.app.commands import Debit, GrantCredits, OpenWallet
from ledger.app.service import CreditLedger
from projections import ProjectionRunner, reconcile_views
from projections.engine import pgstore
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock, make_ledger
from tests.support.postgres import schema_url

WALLETS = 300


class _CountingCursor:
    """The view store's cursor, counting the statements the server runs (one per row of an
    ``executemany``)."""

    def __init__(self, cursor: Any, counts: list[int]) -> None:
        self._cursor = cursor
        self._counts = counts

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._counts.append(1)
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        self._counts.append(len(rows))
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str, clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(schema_url(postgres_url, pg_schema), clock=clock)
    yield app
    app.close()


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted: list[int] = []

    class CountingTx(pgstore.PostgresTx):
        def __init__(self, cursor: Any, dialect: Any, statements: dict[str, str]) -> None:
            super().__init__(_CountingCursor(cursor, counted), dialect, statements)

    monkeypatch.setattr(pgstore, "PostgresTx", CountingTx)
    return counted


def test_a_batch_of_debits_on_many_wallets_is_projected_with_a_few_statements(
    ledger: CreditLedger, views: ViewStore, counts: list[int]
) -> None:
    # Given 300 funded wallets, projected
    for i in range(WALLETS):
        ledger.open_wallet(OpenWallet(wallet_id=f"w{i}"))
        ledger.grant(GrantCredits(wallet_id=f"w{i}", amount=100, category="paid"))
    runner = ProjectionRunner(ledger, views, batch_size=1000)
    runner.catch_up()
    # When each wallet is debited once and the batch is projected
    for i in range(WALLETS):
        ledger.debit(Debit(wallet_id=f"w{i}", amount=1 + i % 7, subject={"user_id": f"u{i}"}))
    counts.clear()
    runner.catch_up()
    # Then the views took a few dozen statements, where row by row took about seven per debit
    assert 0 < sum(counts) < 60, sum(counts)
    # and they still equal the log
    assert reconcile_views(ledger, views) == []


def test_insert_many_adds_each_row_once_into_existing_rows(views: ViewStore) -> None:
    # Given a table of running sums
    with views.write() as tx:
        tx.execute("CREATE TEMP TABLE sums (k TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)")
        upsert = tx.dialect.sql(
            "INSERT INTO sums AS cur (k, n, note) VALUES (?, ?, ?)"
            " ON CONFLICT (k) DO UPDATE SET n = cur.n + excluded.n"
        )
        # When 2,500 rows are inserted twice (a column all NULL the second time)
        rows = [(f"k{i}", i, None if i % 2 else "note") for i in range(2500)]
        tx.insert_many(upsert, rows)
        tx.insert_many(upsert, [(k, n, None) for k, n, _ in rows])
        tx.insert_many(upsert, [])
        # Then every row holds its sum, nothing lost or doubled
        got = dict(tx.all("SELECT k, n FROM sums"))
        assert got == {f"k{i}": 2 * i for i in range(2500)}
        assert tx.all("SELECT count(*) FROM sums WHERE note = 'note'") == [(1250,)]
        # and all_in finds the keys present, whatever their number
        found = dict(tx.all_in("SELECT k, n FROM sums WHERE k IN", ["k7", "k2499", "absent"]))
        assert found == {"k7": 14, "k2499": 4998}
        tx.execute("DROP TABLE sums")
