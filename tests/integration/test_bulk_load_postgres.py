"""Wallets missing from the committer's cache are loaded for the whole batch in one query.

``ledger.bulk_load.load_wallets`` must rebuild each wallet exactly as the repository does
(latest snapshot, then the events after it), and the committer must use it for a batch
instead of loading the wallets one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from ledger.app.commands import Debit, PlaceHold
from ledger.app.service import CreditLedger
from ledger.domain.ids import wallet_uuid
from ledger.store.bulk_load import load_statement, load_wallets
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.postgres import schema_url

WALLETS = [f"w{n}" for n in range(6)]


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str) -> Iterator[CreditLedger]:
    # Snapshots every 4 versions: most wallets below have one, and events after it.
    env = {"LEDGER_SNAPSHOT_INTERVAL": "4"}
    app = make_ledger(schema_url(postgres_url, pg_schema), FakeClock(), env, group_commit=True)
    for n, wallet in enumerate(WALLETS):
        open_funded_wallet(app, wallet, amount=1000)
        for k in range(n * 2):
            app.debit(Debit(wallet_id=wallet, amount=k + 1, idempotency_key=f"{wallet}-{k}"))
        if n % 2:
            app.place_hold(PlaceHold(wallet_id=wallet, hold_id="h", amount=5))
    app.snapshotter.drain()
    yield app
    app.close()


def test_wallets_loaded_together_equal_wallets_loaded_one_by_one(ledger: CreditLedger) -> None:
    snapshotted = [w for w in WALLETS if _snapshots(ledger, w)]
    assert len(snapshotted) >= 3  # the snapshot branch of the query is exercised

    loaded = load_wallets(ledger, [*WALLETS, "never-opened"])

    assert sorted(loaded) == WALLETS
    for wallet_id in WALLETS:
        one = ledger.load_wallet(wallet_id)
        assert loaded[wallet_id].version == one.version
        assert loaded[wallet_id] == one
        assert loaded[wallet_id].view(ledger.now()) == one.view(ledger.now())


def test_a_batch_over_uncached_wallets_loads_them_in_one_query(
    postgres_url: str, pg_schema: str, ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh ledger on the same store: its committer has nothing cached.
    cold = make_ledger(schema_url(postgres_url, pg_schema), FakeClock(), group_commit=True)
    committer = cold.committer
    assert committer is not None
    one_by_one: list[str] = []
    real_load = cold.load_wallet

    def load_wallet(wallet_id: str) -> Any:
        one_by_one.append(wallet_id)
        return real_load(wallet_id)

    monkeypatch.setattr(cold, "load_wallet", load_wallet)
    try:
        futures: list[Any] = []

        def queue() -> None:
            for wallet in WALLETS:
                futures.append(cold.debit_later(Debit(wallet_id=wallet, amount=1)))

        sender = threading.Thread(target=queue)
        with committer.paused():  # the debits queue up and are decided as one batch
            sender.start()
            sender.join(10)
            while committer.queued() < len(WALLETS):
                time.sleep(0.001)
        outcomes = [cold.settle(f) for f in futures]
    finally:
        cold.close()

    assert one_by_one == []
    expected = {w: ledger.load_wallet(w).available(ledger.now()) for w in WALLETS}
    assert {o.body["wallet_id"]: o.body["balance"]["available"] for o in outcomes} == expected


def test_the_load_probes_each_wallet_whatever_plan_postgres_caches(ledger: CreditLedger) -> None:
    # The statement is prepared, and after five runs PostgreSQL may keep a generic plan, made
    # without the ids. A plain join there hashed the ids and scanned the whole events table
    # (which only grows) for every batch with a wallet not cached. Other wallets' events
    # (filler rows: ten wallets with 10,000 events each, as a zipfian head has) make the
    # planner expect many events per wallet, which is when it chose to scan.
    statement = load_statement(ledger)
    assert statement is not None
    recorder = ledger.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    events_table = recorder.events_table_name
    qualified = f'"{recorder.datastore.schema}"."{events_table}"'
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(
            f"INSERT INTO {qualified} (originator_id, originator_version, topic, state)"  # noqa: S608
            " SELECT o.id, v, 'filler', '\\x00'::bytea"
            " FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 10)) AS o,"
            " generate_series(1, 10000) AS v"
        )
        curs.execute(f"ANALYZE {qualified}")
        curs.execute("SET plan_cache_mode = force_generic_plan")
        curs.execute("PREPARE bulk_load AS " + statement.replace("%s", "$1"))
        ids = ",".join(str(wallet_uuid(w)) for w in WALLETS)
        curs.execute(f"EXPLAIN EXECUTE bulk_load('{{{ids}}}')")
        plan = "\n".join(str(next(iter(row.values()))) for row in curs.fetchall())
        curs.execute("DEALLOCATE bulk_load")
        curs.execute("RESET plan_cache_mode")

    assert f"Seq Scan on {events_table}" not in plan, plan
    assert f"{events_table}_pkey" in plan  # the events are read through their primary key
    assert sorted(load_wallets(ledger, WALLETS)) == WALLETS  # and still load


def _snapshots(ledger: CreditLedger, wallet_id: str) -> list[Any]:
    assert ledger.snapshots is not None
    return list(ledger.snapshots.get(wallet_uuid(wallet_id)))
