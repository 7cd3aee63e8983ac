"""The shard layout: shards in other databases (``LEDGER_SHARD_URLS``), sealed at the first
start, and refused when a process is given another layout (decision 0017).

Two schemas of the test database stand for two PostgreSQL clusters: a layout names a store
URL per shard, and a schema is as much another store as another server is.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from ledger.app.commands import Debit, GrantCredits, OpenWallet
from ledger.app.reshard import reshard
from ledger.app.shards import shard_of
from ledger.store.layout import SEAL_ID
from ledger.store.shard_map import ShardCountMismatch
from tests.conftest import throwaway_schema
from tests.support.postgres import real_clock_ledger, schema_url

SHARDS = 2


@pytest.fixture
def third_pg_schema(postgres_url: str) -> Iterator[str]:
    yield from throwaway_schema(postgres_url)


def _wallet_in(shard: int) -> str:
    return next(f"w{n}" for n in range(1000) if shard_of(f"w{n}", SHARDS) == shard)


def _events(postgres_url: str, schema: str, table: str) -> int:
    query = sql.SQL("SELECT COUNT(*) FROM {}.{} WHERE topic LIKE 'ledger:Wallet.%'").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _layout(home: str, other: str) -> dict[str, str]:
    return {"SHARD_URLS": f"{home},{other}"}


def _use(ledger_env: dict[str, str], home: str) -> None:
    ledger = real_clock_ledger(home, ledger_env)
    try:
        for shard in range(SHARDS):
            wallet_id = _wallet_in(shard)
            ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
            ledger.grant(GrantCredits(wallet_id=wallet_id, amount=50, category="paid"))
            ledger.debit(Debit(wallet_id=wallet_id, amount=5, idempotency_key="k"))
    finally:
        ledger.close()


def test_a_shard_lives_in_the_database_its_url_names(
    postgres_url: str, pg_schema: str, other_pg_schema: str
) -> None:
    home = schema_url(postgres_url, pg_schema, pool_size=2)
    other = schema_url(postgres_url, other_pg_schema, pool_size=2)
    _use(_layout(home, other), home)
    assert _events(postgres_url, pg_schema, "ledger_events") == 3
    assert _events(postgres_url, other_pg_schema, "ledger_s1_events") == 3
    again = real_clock_ledger(home, _layout(home, other))  # a later process, same layout
    try:
        assert again.wallet(_wallet_in(1))["balance"]["available"] == 45
        seals = [shard.find(SEAL_ID) for shard in again.shards]
        assert [seal.index for seal in seals if seal is not None] == [0, 1]
    finally:
        again.close()


def test_a_process_given_another_layout_is_refused(
    postgres_url: str, pg_schema: str, other_pg_schema: str
) -> None:
    home = schema_url(postgres_url, pg_schema, pool_size=2)
    other = schema_url(postgres_url, other_pg_schema, pool_size=2)
    _use(_layout(home, other), home)
    with pytest.raises(ShardCountMismatch, match="shard 1"):
        real_clock_ledger(home)  # forgot LEDGER_SHARD_URLS: shard 1 looked for at home
    with pytest.raises(ValueError, match="first of LEDGER_SHARD_URLS"):
        real_clock_ledger(home, _layout(other, home))
    with pytest.raises(ValueError, match="LEDGER_SHARDS=3"):
        real_clock_ledger(home, {**_layout(home, other), "SHARDS": "3"})


def test_the_home_database_cannot_stand_in_for_another_shard(
    postgres_url: str, pg_schema: str, other_pg_schema: str
) -> None:
    """Shard 1's URL naming a database that holds another store's sealed shard."""
    home = schema_url(postgres_url, pg_schema, pool_size=2)
    other = schema_url(postgres_url, other_pg_schema, pool_size=2)
    _use(_layout(other, home), other)  # a store homed in the other schema, shard 1 here
    with pytest.raises(ShardCountMismatch):
        real_clock_ledger(home, _layout(home, home))


def test_reshard_moves_a_store_onto_two_databases(
    postgres_url: str, pg_schema: str, other_pg_schema: str, third_pg_schema: str
) -> None:
    source_url = schema_url(postgres_url, pg_schema, pool_size=2)
    _use({"SHARDS": "1"}, source_url)
    target_home = schema_url(postgres_url, other_pg_schema, pool_size=2)
    target_other = schema_url(postgres_url, third_pg_schema, pool_size=2)
    source = real_clock_ledger(source_url)
    target = real_clock_ledger(target_home, _layout(target_home, target_other))
    try:
        report = reshard(source, target)
        assert all(count > 0 for count in report.per_shard)
        for shard in range(SHARDS):
            assert target.wallet(_wallet_in(shard))["balance"]["available"] == 45
    finally:
        source.close()
        target.close()
    assert _events(postgres_url, third_pg_schema, "ledger_s1_events") == 3
