"""Shards on Postgres: a table set per shard, positions per shard, the shard map shared by
every process on the store."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from ledger.app.commands import Debit, GrantCredits, OpenWallet
from ledger.app.reshard import reshard
from ledger.app.shards import decode_position, shard_of
from ledger.store.shard_map import ShardCountMismatch
from tests.support.builders import FakeClock, make_ledger
from tests.support.postgres import real_clock_ledger, schema_url
from tests.support.reshard import WALLETS, populate, snapshot, usage_batch

SHARDS = 3


def _wallet_in(shard: int) -> str:
    return next(f"w{n}" for n in range(1000) if shard_of(f"w{n}", SHARDS) == shard)


def _count(postgres_url: str, schema: str, table: str, topic_like: str) -> int:
    query = sql.SQL("SELECT COUNT(*) FROM {}.{} WHERE topic LIKE %s").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(query, (topic_like,)).fetchone()
    assert row is not None
    return int(row[0])


def test_each_shard_writes_its_own_tables(postgres_url: str, pg_schema: str) -> None:
    url = schema_url(postgres_url, pg_schema, pool_size=2)
    ledger = real_clock_ledger(url, {"SHARDS": str(SHARDS)})
    try:
        for shard in range(SHARDS):
            wallet_id = _wallet_in(shard)
            ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
            ledger.grant(GrantCredits(wallet_id=wallet_id, amount=50, category="paid"))
            outcome = ledger.debit(Debit(wallet_id=wallet_id, amount=5, idempotency_key="k"))
            assert outcome.position is not None
            assert decode_position(outcome.position)[0] == shard
    finally:
        ledger.close()
    tables = ["ledger_events", "ledger_s1_events", "ledger_s2_events"]
    counts = [_count(postgres_url, pg_schema, t, "ledger:Wallet.%") for t in tables]
    assert counts == [3, 3, 3]  # opened, granted, debited: each in its wallet's shard only
    receipts = [_count(postgres_url, pg_schema, t, "ledger:Receipt.%") for t in tables]
    assert receipts == [1, 1, 1]


def test_a_second_process_follows_the_recorded_shard_count(
    postgres_url: str, pg_schema: str
) -> None:
    url = schema_url(postgres_url, pg_schema, pool_size=2)
    first = real_clock_ledger(url, {"SHARDS": str(SHARDS)})
    try:
        wallet_id = _wallet_in(2)
        first.open_wallet(OpenWallet(wallet_id=wallet_id))
        second = real_clock_ledger(url)
        try:
            assert len(second.shards) == SHARDS
            assert second.wallet(wallet_id)["balance"]["available"] == 0
        finally:
            second.close()
        with pytest.raises(ShardCountMismatch):
            real_clock_ledger(url, {"SHARDS": "2"})
    finally:
        first.close()


def test_resharding_on_postgres_keeps_every_answer(
    postgres_url: str, pg_schema: str, other_pg_schema: str
) -> None:
    clock = FakeClock()
    source = make_ledger(schema_url(postgres_url, pg_schema, pool_size=2), clock)
    target = make_ledger(
        schema_url(postgres_url, other_pg_schema, pool_size=2), clock, {"SHARDS": str(SHARDS)}
    )
    try:
        populate(source)
        report = reshard(source, target)
        assert all(n > 0 for n in report.per_shard)
        assert snapshot(target) == snapshot(source)
        again = target.ingest_usage(usage_batch("billed", bill=True)).body
        assert (again["accepted"], again["duplicates"]) == (0, len(WALLETS))
    finally:
        source.close()
        target.close()
