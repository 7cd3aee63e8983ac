"""How the write loop (``DirectWriter.run``) behaves on Postgres when writers race.

Two CreditLedger instances (two connection pools, like two processes) share one schema. The
races are made deterministic without touching the ledger: a hook runs instance B's command
at an exact point of instance A's command (right after A loaded the wallet, or when A reads
its clock at the start of a decision), then A carries on against the real database.

* A stale writer is re-decided on fresh state: its allocation reflects B's debit, and a
  debit that no longer fits is refused instead of overdrawing.
* A failing save is all-or-nothing: when the receipt (or the hold record) collides, the
  wallet event, hold record and receipt written with it are all rolled back.
* Instances starting at the same moment on one schema all come up (the application retries
  the table-creation race between processes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from ledger.app.commands import CaptureHold, Debit, GrantCredits, OpenWallet, PlaceHold
from ledger.app.service import CreditLedger
from ledger.domain.errors import LedgerError
from ledger.domain.ids import hold_record_id, receipt_id, wallet_uuid
from ledger.domain.wallet import Wallet
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.postgres import debit_counts, scan_events, schema_url


class HookedClock(FakeClock):
    """A FakeClock that runs a one-shot hook the next time it is read."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: Callable[[], None] | None = None

    def __call__(self) -> datetime:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return self.now


class SaveSpy:
    """Records the IntegrityErrors an instance's saves raise (the save itself is untouched)."""

    def __init__(self, ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch) -> None:
        self.errors: list[IntegrityError] = []
        real_save = ledger.save

        def save(*objs: Any, **kwargs: Any) -> Any:
            try:
                return real_save(*objs, **kwargs)
            except IntegrityError as error:
                self.errors.append(error)
                raise

        monkeypatch.setattr(ledger, "save", save)


@pytest.fixture
def store(postgres_url: str, pg_schema: str) -> str:
    return schema_url(postgres_url, pg_schema, pool_size=1, max_overflow=3)


@pytest.fixture
def clock() -> HookedClock:
    return HookedClock()


@pytest.fixture
def pair(store: str, clock: HookedClock) -> Iterator[tuple[CreditLedger, CreditLedger]]:
    """Instances A and B on one schema, sharing one (fake) time."""
    # These races hook the direct write path (load → decide → save); the batched path has
    # its own conflict tests in test_group_commit_postgres.py.
    a = make_ledger(store, clock=clock, group_commit=False)
    try:
        b = make_ledger(store, clock=clock, group_commit=False)
        try:
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def _stored_versions(postgres_url: str, schema: str, aggregate_id: object) -> list[int]:
    """The versions stored for one aggregate, read straight from the events table."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_name LIKE %s",
            (schema, "%\\_events"),
        ).fetchall()
        assert len(tables) == 1, tables
        query = sql.SQL(
            "SELECT originator_version FROM {}.{} WHERE originator_id = %s ORDER BY 1"
        ).format(sql.Identifier(schema), sql.Identifier(tables[0][0]))
        return [row[0] for row in conn.execute(query, (aggregate_id,))]


def _let_b_write_after_a_loads(
    a: CreditLedger, monkeypatch: pytest.MonkeyPatch, b_writes: Callable[[], object]
) -> list[int]:
    """Make A's first wallet load stale: B commits right after it. Returns A's load versions."""
    real_load = a.load_wallet
    loaded: list[int] = []

    def load_wallet(wallet_id: str) -> Wallet:
        wallet = real_load(wallet_id)
        loaded.append(wallet.version)
        if len(loaded) == 1:
            b_writes()
        return wallet

    monkeypatch.setattr(a, "load_wallet", load_wallet)
    return loaded


def _conflict_detail(error: IntegrityError) -> str:
    return str(error).split("DETAIL:", 1)[-1]


def test_stale_writer_is_redecided_on_fresh_state(
    pair: tuple[CreditLedger, CreditLedger],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    a, b = pair
    a.open_wallet(OpenWallet(wallet_id="s"))
    # Promotional credits are consumed first: whoever debits first drains g-promo.
    a.grant(GrantCredits(wallet_id="s", amount=10, category="promotional", grant_id="g-promo"))
    a.grant(GrantCredits(wallet_id="s", amount=100, category="paid", grant_id="g-paid"))
    assert a.wallet("s")["version"] == 3

    b_debit = Debit(wallet_id="s", amount=10, idempotency_key="b-1")
    loaded = _let_b_write_after_a_loads(a, monkeypatch, lambda: b.debit(b_debit))
    spy = SaveSpy(a, monkeypatch)

    outcome = a.debit(Debit(wallet_id="s", amount=5, idempotency_key="a-1"))

    # A decided first on version 3 (g-promo still full), collided with B's version 4,
    # and was decided again on version 4: its allocation reflects B's debit.
    assert loaded == [3, 4]
    assert len(spy.errors) == 1
    assert str(wallet_uuid("s")) in _conflict_detail(spy.errors[0])
    assert not outcome.replayed
    assert outcome.body["allocations"] == [{"grant_id": "g-paid", "amount": 5}]
    assert outcome.body["balance"] == {"available": 95, "held": 0, "debt": 0}

    events = scan_events(b, "s")
    assert [(e["type"], e["data"].get("allocations")) for e in events[3:]] == [
        ("CreditsDebited", [{"grant_id": "g-promo", "amount": 10}]),
        ("CreditsDebited", [{"grant_id": "g-paid", "amount": 5}]),
    ]
    grants = {g["grant_id"]: g["remaining"] for g in b.wallet("s")["grants"]}
    assert grants == {"g-promo": 0, "g-paid": 95}
    assert _stored_versions(postgres_url, pg_schema, wallet_uuid("s")) == [1, 2, 3, 4, 5]


def test_stale_debit_that_no_longer_fits_is_refused_not_overdrawn(
    pair: tuple[CreditLedger, CreditLedger],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    a, b = pair
    open_funded_wallet(a, "s", amount=10)

    loaded = _let_b_write_after_a_loads(
        a, monkeypatch, lambda: b.debit(Debit(wallet_id="s", amount=6, idempotency_key="b-1"))
    )
    with pytest.raises(LedgerError) as refused:
        a.debit(Debit(wallet_id="s", amount=8, idempotency_key="a-1"))

    # On version 2 the 8 fitted; on fresh version 3 only 4 are left: refused, not replayed.
    assert loaded == [2, 3]
    assert refused.value.code == "insufficient_credits"
    assert refused.value.details() == {"available": 4, "requested": 8}
    assert b.wallet("s")["balance"] == {"available": 4, "held": 0, "debt": 0}
    logged, _ = debit_counts(scan_events(b, "s"))
    assert dict(logged) == {str(receipt_id("s", "b-1")): 1}
    assert b.find(receipt_id("s", "a-1")) is None
    assert _stored_versions(postgres_url, pg_schema, wallet_uuid("s")) == [1, 2, 3]


def test_receipt_collision_rolls_back_the_wallet_event_saved_with_it(
    pair: tuple[CreditLedger, CreditLedger],
    clock: HookedClock,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    a, b = pair
    open_funded_wallet(a, "s", amount=100)
    command = Debit(wallet_id="s", amount=7, idempotency_key="same")
    debit_id = receipt_id("s", "same")

    # B sends the same request just as A starts deciding: A then loads B's version 3, decides
    # a second debit (version 4) and saves it with its receipt, which collides with B's.
    b_outcomes = []
    clock.hook = lambda: b_outcomes.append(b.debit(command))
    spy = SaveSpy(a, monkeypatch)
    outcome = a.debit(command)

    assert len(b_outcomes) == 1
    assert not b_outcomes[0].replayed
    assert outcome.replayed
    assert outcome.body == b_outcomes[0].body
    (error,) = spy.errors
    detail = _conflict_detail(error)
    assert f"({debit_id}, 1)" in detail, detail  # the receipt collided, not the wallet
    assert str(wallet_uuid("s")) not in detail

    # Nothing of A's failed save survived: no orphan version 4 of the wallet.
    assert _stored_versions(postgres_url, pg_schema, wallet_uuid("s")) == [1, 2, 3]
    assert _stored_versions(postgres_url, pg_schema, debit_id) == [1]
    events = scan_events(a, "s")
    logged, _ = debit_counts(events)
    assert dict(logged) == {str(debit_id): 1}
    assert a.wallet("s")["balance"]["available"] == 93


def test_hold_record_collision_rolls_back_the_wallet_event_and_receipt(
    pair: tuple[CreditLedger, CreditLedger],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    a, b = pair
    open_funded_wallet(a, "s", amount=100)
    b.place_hold(PlaceHold(wallet_id="s", amount=30, hold_id="h1"))
    b.capture_hold(CaptureHold(wallet_id="s", hold_id="h1", amount=20))
    wallet_versions = _stored_versions(postgres_url, pg_schema, wallet_uuid("s"))
    record_id = hold_record_id("s", "h1")

    # The wallet no longer knows h1 (resolved holds live only in their record), so A's first
    # attempt places it again and collides on the hold record's first version.
    spy = SaveSpy(a, monkeypatch)
    with pytest.raises(LedgerError) as refused:
        a.place_hold(PlaceHold(wallet_id="s", amount=5, hold_id="h1", idempotency_key="again"))

    assert refused.value.code == "hold_exists"
    (error,) = spy.errors
    assert f"({record_id}, 1)" in _conflict_detail(error)
    assert _stored_versions(postgres_url, pg_schema, wallet_uuid("s")) == wallet_versions
    assert _stored_versions(postgres_url, pg_schema, receipt_id("s", "again")) == []
    assert _stored_versions(postgres_url, pg_schema, record_id) == [1, 2]
    assert a.hold("s", "h1")["status"] == "captured"
    assert a.wallet("s")["balance"] == {"available": 80, "held": 0, "debt": 0}


def test_receipt_collision_leaves_no_hold_record_behind(
    pair: tuple[CreditLedger, CreditLedger],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    a, b = pair
    open_funded_wallet(a, "s", amount=100)
    b.place_hold(PlaceHold(wallet_id="s", amount=30, hold_id="h1", idempotency_key="k"))
    wallet_versions = _stored_versions(postgres_url, pg_schema, wallet_uuid("s"))

    # Same key, different request: A's first attempt saves a wallet event, a new hold record
    # h2 and the key's receipt in one transaction; the receipt collides, so none of it stays.
    spy = SaveSpy(a, monkeypatch)
    with pytest.raises(LedgerError) as refused:
        a.place_hold(PlaceHold(wallet_id="s", amount=40, hold_id="h2", idempotency_key="k"))

    assert refused.value.code == "idempotency_conflict"
    (error,) = spy.errors
    assert f"({receipt_id('s', 'k')}, 1)" in _conflict_detail(error)
    assert _stored_versions(postgres_url, pg_schema, wallet_uuid("s")) == wallet_versions
    assert _stored_versions(postgres_url, pg_schema, hold_record_id("s", "h2")) == []
    with pytest.raises(LedgerError) as missing:
        a.hold("s", "h2")
    assert missing.value.code == "hold_not_found"
    assert a.wallet("s")["balance"] == {"available": 70, "held": 30, "debt": 0}


def test_racing_threads_on_two_instances_commit_each_debit_once(
    pair: tuple[CreditLedger, CreditLedger],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    pg_schema: str,
) -> None:
    """The same two-instance race with real threads and no hooks, many times over."""
    a, b = pair
    spies = [SaveSpy(a, monkeypatch), SaveSpy(b, monkeypatch)]
    open_funded_wallet(a, "s", amount=200)
    rounds = 40
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {"a": [], "b": []}

    def run(name: str, ledger: CreditLedger) -> None:
        for n in range(rounds):
            barrier.wait(timeout=30)
            key = f"{name}-{n}"
            ledger.debit(Debit(wallet_id="s", amount=2, idempotency_key=key))
            outcomes[name].append(key)

    threads = [threading.Thread(target=run, args=item) for item in (("a", a), ("b", b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes["a"]) == len(outcomes["b"]) == rounds

    logged, _ = debit_counts(scan_events(a, "s"))
    expected = {str(receipt_id("s", k)): 1 for k in outcomes["a"] + outcomes["b"]}
    assert dict(logged) == expected
    assert a.wallet("s")["balance"]["available"] == 200 - 2 * 2 * rounds
    versions = _stored_versions(postgres_url, pg_schema, wallet_uuid("s"))
    assert versions == list(range(1, 3 + 2 * rounds))
    assert sum(len(spy.errors) for spy in spies) > 0, "the instances never collided"


def test_instances_can_start_together_on_a_migrated_schema(store: str) -> None:
    """Processes of one deployment start at the same moment; none may crash at startup."""
    make_ledger(store).close()  # the schema exists, as after any first deploy
    starters = 8

    def start(barrier: threading.Barrier) -> bool:
        barrier.wait(timeout=30)
        make_ledger(store).close()
        return True

    started = 0
    for _ in range(3):
        barrier = threading.Barrier(starters)
        with ThreadPoolExecutor(max_workers=starters) as pool:
            futures = [pool.submit(start, barrier) for _ in range(starters)]
            # A startup crash re-raises here ("tuple concurrently updated" before the fix).
            started += sum(future.result(timeout=60) for future in futures)
    assert started == 3 * starters
