"""Shards on the write side: routing by a stable hash, one store per shard, the shard map."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.app.application import LedgerApplication
from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.app.shards import (
    MAX_SHARDS,
    SHARD_BITS,
    ShardEnvironment,
    decode_position,
    encode_position,
    shard_of,
    sqlite_shard_path,
)
from ledger.domain.errors import IdempotencyConflict, ValidationFailed, WalletNotFound
from ledger.domain.ids import price_book_uuid, wallet_uuid
from ledger.metering.usage import USAGE_BATCH_TOPIC, UsageBatchRecorded
from ledger.store.shard_map import SHARD_MAP_ID, ShardCountMismatch
from tests.support.builders import FakeClock, make_ledger
from tests.support.shards import SHARDS, wallets_per_shard


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(clock=clock, env={"SHARDS": str(SHARDS)})
    yield app
    app.close()


def shard(ledger: CreditLedger, index: int) -> LedgerApplication:
    """One shard's store (shards other than the home are stores, not whole ledgers)."""
    return ledger.shards[index]


def fund(ledger: CreditLedger, wallet_id: str, amount: int = 100) -> None:
    ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
    ledger.grant(GrantCredits(wallet_id=wallet_id, amount=amount, category="paid", grant_id="g1"))


def test_shard_of_is_a_fixed_function_of_the_wallet_id() -> None:
    # Pinned (BLAKE2b-64 of the id, big-endian, modulo the count): a release that changed
    # these would look for existing wallets in the wrong tables.
    assert shard_of("acme", 1) == 0
    assert (shard_of("acme", 4), shard_of("w0", 4), shard_of("user-42", 16)) == (1, 3, 6)


def test_shard_of_spreads_wallets_evenly() -> None:
    counts = Counter(shard_of(f"wallet-{n}", 4) for n in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(900 <= c <= 1100 for c in counts.values()), counts


def test_positions_encode_shard_and_notification_id_and_shard_zero_is_unchanged() -> None:
    assert encode_position(0, 41) == 41
    assert decode_position(encode_position(2, 7)) == (2, 7)
    assert encode_position(1, 5) == (1 << SHARD_BITS) + 5
    with pytest.raises(ValueError, match="does not fit"):
        encode_position(1, 1 << SHARD_BITS)
    with pytest.raises(ValueError, match="never negative"):
        decode_position(-1)


def test_a_shard_reads_the_base_settings_under_its_own_table_name() -> None:
    env = ShardEnvironment("Ledger_s2", {"LEDGER_POOL": "3", "LEDGER_S2_LOCK": "1"}, base="Ledger")
    assert env.get("POOL") == "3"
    assert env.get("LOCK") == "1"
    assert env.name == "Ledger_s2"


def test_each_wallet_lives_only_in_the_store_of_its_shard(ledger: CreditLedger) -> None:
    groups = wallets_per_shard()
    for group in groups:
        for wallet_id in group:
            fund(ledger, wallet_id)
    assert [s.shard_index for s in ledger.shards] == [0, 1, 2]
    for index, group in enumerate(groups):
        for wallet_id in group:
            holders = [s.shard_index for s in ledger.shards if s.find(wallet_uuid(wallet_id))]
            assert holders == [index]
            assert ledger.wallet(wallet_id)["balance"]["available"] == 100


def test_a_write_answers_a_position_in_its_wallets_shard(ledger: CreditLedger) -> None:
    groups = wallets_per_shard()
    for index, group in enumerate(groups):
        wallet_id = group[0]
        fund(ledger, wallet_id)
        outcome = ledger.debit(Debit(wallet_id=wallet_id, amount=7, idempotency_key="k1"))
        assert outcome.position is not None
        shard, notification_id = decode_position(outcome.position)
        assert shard == index
        assert notification_id == ledger.shards[index].recorder.max_notification_id()


def test_retries_with_the_same_key_replay_in_every_shard(ledger: CreditLedger) -> None:
    for group in wallets_per_shard():
        wallet_id = group[0]
        fund(ledger, wallet_id)
        first = ledger.debit(Debit(wallet_id=wallet_id, amount=10, idempotency_key="same"))
        again = ledger.debit(Debit(wallet_id=wallet_id, amount=10, idempotency_key="same"))
        assert again.replayed
        assert again.body == first.body
        with pytest.raises(IdempotencyConflict):
            ledger.debit(Debit(wallet_id=wallet_id, amount=11, idempotency_key="same"))
        assert ledger.wallet(wallet_id)["balance"]["available"] == 90


def test_a_debit_in_another_shard_is_rated_with_the_home_price_book(ledger: CreditLedger) -> None:
    wallet_id = wallets_per_shard()[2][0]
    rates = [{"model": "m", "input_per_million": 1_000_000, "output_per_million": 2_000_000}]
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=rates))
    assert shard(ledger, 2).find(price_book_uuid("default")) is None  # only in the home store
    assert shard(ledger, 0).find(price_book_uuid("default")) is not None
    fund(ledger, wallet_id)
    usage = {"model": "m", "input_tokens": 3, "output_tokens": 4}
    body = ledger.debit(Debit(wallet_id=wallet_id, usage=usage)).body
    assert body["amount"] == 3 + 8
    assert ledger.wallet(wallet_id)["balance"]["available"] == 100 - 11
    # The book is a server-wide fact of the home shard.
    ledger.put_price_book(PutPriceBook(price_book_id="other", rates=rates))
    assert shard(ledger, 1).find(price_book_uuid("other")) is None
    assert ledger.shards[0].find(price_book_uuid("other")) is not None
    assert ledger.price_book("other")["version"] == 1


def test_reads_and_holds_go_to_the_wallets_shard(ledger: CreditLedger) -> None:
    wallet_id = wallets_per_shard()[1][0]
    fund(ledger, wallet_id)
    ledger.place_hold(PlaceHold(wallet_id=wallet_id, amount=30, hold_id="h1"))
    assert ledger.hold(wallet_id, "h1")["status"] == "open"
    assert ledger.wallet(wallet_id)["balance"] == {"available": 70, "held": 30, "debt": 0}
    assert ledger.wallet_events(wallet_id)["events"][0]["type"] == "Opened"
    with pytest.raises(WalletNotFound):
        ledger.wallet(wallets_per_shard()[2][0])


def usage_event(event_id: str, wallet_id: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "wallet_id": wallet_id,
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"user_id": "u1", "model": "gpt"},
        "quantities": {"input_tokens": 12},
        "properties": {},
    }


def test_a_usage_batch_over_shards_answers_like_one_batch(ledger: CreditLedger) -> None:
    groups = wallets_per_shard()
    for group in groups:
        fund(ledger, group[0])
    batch = [
        usage_event("a", groups[0][0]),
        usage_event("b", groups[1][0]),
        usage_event("c", 42),  # no usable wallet id: rejected at its index
        usage_event("d", groups[2][0]),
        usage_event("e", groups[1][1]),  # never opened
        usage_event("f", groups[2][0]),
    ]
    body = ledger.ingest_usage(batch).body
    assert body["accepted"] == 4
    assert body["duplicates"] == 0
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (2, "validation_error"),
        (4, "wallet_not_found"),
    ]
    again = ledger.ingest_usage(batch).body
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    recorded = [
        len(shard(ledger, k).usage_ids.existing_usage_ids(_keys(batch))) for k in range(SHARDS)
    ]
    assert recorded == [1, 1, 2]


def _keys(batch: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["wallet_id"], e["event_id"]) for e in batch if isinstance(e["wallet_id"], str)]


def test_sweep_expires_grants_in_every_shard(ledger: CreditLedger, clock: FakeClock) -> None:
    groups = wallets_per_shard()
    for group in groups:
        ledger.open_wallet(OpenWallet(wallet_id=group[0]))
        expires_at = clock.now.replace(year=clock.now.year + 1)
        ledger.grant(
            GrantCredits(
                wallet_id=group[0],
                amount=5,
                category="promotional",
                grant_id="p",
                expires_at=expires_at,
            )
        )
    clock.set(clock.now.replace(year=clock.now.year + 2))
    assert ledger.sweep() == SHARDS
    assert all(ledger.wallet(g[0])["balance"]["available"] == 0 for g in groups)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


def test_later_processes_read_the_shard_count_from_the_store(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = make_ledger(url, env={"SHARDS": "3"})
    wallet_id = wallets_per_shard()[2][0]
    fund(first, wallet_id)
    first.close()
    later = make_ledger(url)
    try:
        assert len(later.shards) == 3
        assert later.shards[0].find(SHARD_MAP_ID) is not None
        assert later.wallet(wallet_id)["balance"]["available"] == 100
    finally:
        later.close()
    with pytest.raises(ShardCountMismatch, match="set up with 3 shard"):
        make_ledger(url, env={"SHARDS": "2"})


def test_a_new_store_records_its_count_even_for_one_shard(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = make_ledger(url)
    first.close()
    with pytest.raises(ShardCountMismatch, match="set up with 1 shard"):
        make_ledger(url, env={"SHARDS": "2"})


def _forget_the_shard_map(path: Path) -> None:
    """Make the store look like one from before shards (wallets, no map)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("DELETE FROM stored_events WHERE topic LIKE 'ledger:ShardMap.%'")
        db.commit()


def test_a_store_from_before_shards_stays_one_shard(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = make_ledger(url)
    fund(first, "acme")
    first.close()
    _forget_the_shard_map(tmp_path / "ledger.sqlite3")
    with pytest.raises(ShardCountMismatch, match="needs a migration"):
        make_ledger(url, env={"SHARDS": "2"})
    again = make_ledger(url)
    try:
        assert len(again.shards) == 1
        assert again.shards[0].find(SHARD_MAP_ID) is None  # nothing recorded for it
        assert again.wallet("acme")["balance"]["available"] == 100
    finally:
        again.close()


@pytest.mark.parametrize("count", ["0", str(MAX_SHARDS + 1)])
def test_a_shard_count_out_of_range_is_refused(count: str) -> None:
    with pytest.raises(ValueError, match="LEDGER_SHARDS must be between"):
        make_ledger(env={"SHARDS": count})


def test_sqlite_shards_keep_their_own_files(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    app = make_ledger(url, env={"SHARDS": "2"})
    try:
        wallet_id = wallets_per_shard(2)[1][0]
        fund(app, wallet_id)
    finally:
        app.close()
    wallet_events = "SELECT COUNT(*) FROM stored_events WHERE topic LIKE 'ledger:Wallet.%'"
    with closing(sqlite3.connect(tmp_path / "ledger.s1.sqlite3")) as db:
        in_shard = db.execute(wallet_events).fetchone()[0]
    with closing(sqlite3.connect(tmp_path / "ledger.sqlite3")) as db:
        in_home = db.execute(wallet_events).fetchone()[0]
    assert (in_shard, in_home) == (2, 0)  # opened and granted, all in shard 1
    assert sqlite_shard_path("var/ledger.sqlite3", 3) == str(Path("var/ledger.s3.sqlite3"))
    assert sqlite_shard_path(":memory:", 0) == ":memory:"
    for shared in (":memory:", "file:x?mode=memory&cache=shared", "file:ledger?mode=rwc"):
        with pytest.raises(ValueError, match="plain file path"):
            sqlite_shard_path(shared, 1)


def test_a_wallet_id_by_keyword_is_routed_like_a_positional_one(ledger: CreditLedger) -> None:
    wallet_id = wallets_per_shard()[1][0]
    fund(ledger, wallet_id)
    assert ledger.wallet(wallet_id=wallet_id)["balance"]["available"] == 100


def test_a_store_read_by_keyword_is_refused_rather_than_routed_home(ledger: CreditLedger) -> None:
    with pytest.raises(TypeError, match="positionally"):
        ledger.load_wallet(wallet_id="w0")


def test_a_closed_ledger_does_not_route_wallets_to_the_home(ledger: CreditLedger) -> None:
    wallet_id = wallets_per_shard()[1][0]
    ledger.close()
    assert len(ledger.shards) == SHARDS
    assert ledger.shard_for(wallet_id) is ledger.shards[1]


def test_conflicts_in_any_shard_reach_the_hook_set_on_the_home(ledger: CreditLedger) -> None:
    seen: list[str] = []
    ledger.on_conflict = seen.append
    for index in range(SHARDS):
        ledger.shards[index].conflicted(Debit(wallet_id="x", amount=1))
    assert seen == ["Debit"] * SHARDS


def test_a_wallet_opening_key_is_server_wide_across_shards(ledger: CreditLedger) -> None:
    (home, *_), (first, second), (third, *_) = wallets_per_shard()
    opened = ledger.open_wallet(OpenWallet(wallet_id=first, idempotency_key="K"))
    again = ledger.open_wallet(OpenWallet(wallet_id=first, idempotency_key="K"))
    assert again.replayed
    assert again.body == opened.body
    for other in (second, third, home):  # same shard, another shard, the home shard
        with pytest.raises(IdempotencyConflict):
            ledger.open_wallet(OpenWallet(wallet_id=other, idempotency_key="K"))
        with pytest.raises(WalletNotFound):
            ledger.wallet(other)


def test_a_key_first_used_in_the_home_shard_is_refused_elsewhere(ledger: CreditLedger) -> None:
    (home, *_), (elsewhere, *_), _ = wallets_per_shard()
    ledger.open_wallet(OpenWallet(wallet_id=home, idempotency_key="H"))
    with pytest.raises(IdempotencyConflict):
        ledger.open_wallet(OpenWallet(wallet_id=elsewhere, idempotency_key="H"))


def test_bad_input_does_not_claim_a_wallet_opening_key(ledger: CreditLedger) -> None:
    _, (wallet_id, *_), _ = wallets_per_shard()
    with pytest.raises(ValidationFailed):
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id, overdraft_limit=-1, idempotency_key="B"))
    assert (
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id, idempotency_key="B")).body["wallet_id"]
        == wallet_id
    )


def test_a_new_store_refuses_shard_files_left_from_another(tmp_path: Path) -> None:
    old = make_ledger(sqlite_url(tmp_path), env={"SHARDS": "2"})
    fund(old, wallets_per_shard(2)[1][0])
    old.close()
    (tmp_path / "ledger.sqlite3").unlink()  # the home file goes, shard 1's file stays
    with pytest.raises(ShardCountMismatch, match="shard 1 of a new store already holds"):
        make_ledger(sqlite_url(tmp_path), env={"SHARDS": "2"})


class TickingClock(FakeClock):
    """A clock that moves a second each time it is read."""

    def __call__(self) -> datetime:
        return self.advance(seconds=1)


def test_every_part_of_a_split_batch_is_received_at_one_time() -> None:
    clock = TickingClock()
    ledger = make_ledger(clock=clock, env={"SHARDS": str(SHARDS)})
    try:
        groups = wallets_per_shard()
        for group in groups:
            fund(ledger, group[0])
        ledger.ingest_usage([usage_event(f"e{n}", g[0]) for n, g in enumerate(groups)])
        received = set()
        for index in range(SHARDS):
            app = shard(ledger, index)
            (batch,) = app.recorder.select_notifications(
                start=1, limit=1000, topics=[USAGE_BATCH_TOPIC]
            )
            event = app.mapper.to_domain_event(batch)
            assert isinstance(event, UsageBatchRecorded)
            received.add(event.received_at)
        assert len(received) == 1
    finally:
        ledger.close()
