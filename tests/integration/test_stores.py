"""One ledger, three stores: in memory, an SQLite file and Postgres behave the same.

A short scenario (open, grant, budget, debit, hold, capture, refund, idempotent replay, an ``as_of``
read, the expiry sweep) runs on each store with the same fake clock and must give exactly
the bodies it gives in memory (only the store's own ``recorded_at`` stamps differ). A second
CreditLedger opened on the same SQLite file or Postgres schema (a restart) sees the same
state and still replays stored results. ``store_env`` maps URLs and rejects what it does
not know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    SetBudget,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import LedgerError
from ledger.domain.ids import receipt_id
from ledger.store.env import store_env
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.postgres import account_balances, scan_events, schema_url

WALLET = "acme"
DEBIT = Debit(wallet_id=WALLET, amount=150, subject={"user_id": "u1"}, idempotency_key="debit-1")
REFUND = Refund(
    wallet_id=WALLET, debit_id=str(receipt_id(WALLET, "debit-1")), amount=50, idempotency_key="r-1"
)


def _store_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"  # four slashes: an absolute path
    postgres_url: str = request.getfixturevalue("postgres_url")
    schema: str = request.getfixturevalue("pg_schema")
    return schema_url(postgres_url, schema, pool_size=1, max_overflow=2)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _store_url(str(request.param), request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _store_url(str(request.param), request, tmp_path)


def _events(ledger: CreditLedger) -> list[dict[str, Any]]:
    """The wallet's events without ``recorded_at``, which each store stamps itself."""
    return [
        {k: v for k, v in event.items() if k != "recorded_at"}
        for event in scan_events(ledger, WALLET)
    ]


def _scenario(ledger: CreditLedger, clock: FakeClock) -> dict[str, Any]:
    """Every result body of the scenario, by step name."""
    results: dict[str, Any] = {}
    results["open"] = ledger.open_wallet(OpenWallet(wallet_id=WALLET, idempotency_key="open-1"))
    results["grant paid"] = ledger.grant(
        GrantCredits(
            wallet_id=WALLET, amount=1000, category="paid", grant_id="g-paid", idempotency_key="g-1"
        )
    )
    results["grant promo"] = ledger.grant(
        GrantCredits(
            wallet_id=WALLET,
            amount=200,
            category="promotional",
            grant_id="g-promo",
            expires_at=T0.replace(day=2),
            idempotency_key="g-2",
        )
    )
    results["budget"] = ledger.set_budget(
        SetBudget(
            wallet_id=WALLET,
            budget_id="b-u1",
            scope={"user_id": "u1"},
            limit=100,
            period="month",
            timezone="Europe/Berlin",
            mode="soft",
            alert_thresholds_bps=[2500],
            idempotency_key="b-1",
        )
    )
    clock.advance(minutes=1)
    results["debit"] = ledger.debit(DEBIT)
    clock.advance(minutes=1)
    results["hold"] = ledger.place_hold(
        PlaceHold(wallet_id=WALLET, amount=300, hold_id="h1", idempotency_key="hold-1")
    )
    clock.advance(minutes=1)
    results["capture"] = ledger.capture_hold(
        CaptureHold(wallet_id=WALLET, hold_id="h1", amount=120, idempotency_key="capture-1")
    )
    results["refund"] = ledger.refund(REFUND)
    results["replayed debit"] = ledger.debit(DEBIT)
    settled = clock.now
    clock.advance(days=2)  # past the promotional grant's expiry
    results["as_of"] = ledger.wallet(WALLET, as_of=settled)
    results["before sweep"] = ledger.wallet(WALLET)
    results["sweep"] = ledger.sweep()
    results["after sweep"] = ledger.wallet(WALLET)
    results["hold view"] = ledger.hold(WALLET, "h1")
    results["events"] = _events(ledger)
    return {
        name: (value.body, value.replayed) if hasattr(value, "body") else value
        for name, value in results.items()
    }


def _run_scenario(url: str) -> dict[str, Any]:
    clock = FakeClock()
    ledger = make_ledger(url, clock=clock)
    try:
        return _scenario(ledger, clock)
    finally:
        ledger.close()


def test_scenario_gives_the_same_bodies_on_every_store(any_store: str) -> None:
    reference = _run_scenario("memory://")
    results = _run_scenario(any_store)

    assert results.keys() == reference.keys()
    for step, expected in reference.items():
        assert results[step] == expected, step

    # And the reference itself is right (hand-computed).
    debit, replayed = results["replayed debit"]
    assert replayed
    assert (debit, False) == results["debit"]
    assert debit["allocations"] == [{"grant_id": "g-promo", "amount": 150}]
    # The stored result (a receipt) keeps the budget view's datetimes and the warnings.
    (budget,) = debit["budgets"]
    assert (budget["budget_id"], budget["spent"]) == ("b-u1", 150)
    assert budget["period_start"] == at("2025-12-31T23:00")  # Berlin midnight, in UTC
    assert debit["warnings"] == [{"code": "soft_budget_exceeded", "budget_id": "b-u1"}]
    capture, _ = results["capture"]
    assert (capture["captured"], capture["released"]) == (120, 180)
    assert results["as_of"]["balance"] == {"available": 980, "held": 0, "debt": 0}
    # Reads never save: before the sweep the expiry is applied on a copy only.
    assert results["before sweep"]["balance"]["available"] == 930
    assert results["before sweep"]["version"] == 8
    assert results["sweep"] == 1
    assert results["after sweep"]["balance"] == {"available": 930, "held": 0, "debt": 0}
    assert results["after sweep"]["version"] == 9
    assert results["hold view"]["status"] == "captured"
    types = [event["type"] for event in results["events"]]
    assert types == [
        "Opened",
        "CreditsGranted",
        "CreditsGranted",
        "BudgetSet",
        "CreditsDebited",
        "HoldPlaced",
        "HoldCaptured",
        "DebitRefunded",
        "GrantExpired",
    ]
    net = account_balances(results["events"])
    assert sum(net.values()) == 0
    assert net["platform:credits:consumed"] == 150 + 120 - 50
    assert net["platform:credits:expired"] == 50


def test_a_second_instance_on_the_same_store_sees_the_same_state(durable_store: str) -> None:
    clock = FakeClock()
    first = make_ledger(durable_store, clock=clock)
    try:
        results = _scenario(first, clock)
        stored_events = scan_events(first, WALLET)
    finally:
        first.close()

    second = make_ledger(durable_store, clock=clock)  # a restart: nothing cached
    try:
        assert second.wallet(WALLET) == results["after sweep"]
        assert second.hold(WALLET, "h1") == results["hold view"]
        assert scan_events(second, WALLET) == stored_events  # recorded_at included
        assert second.wallet(WALLET, as_of=T0.replace(minute=3)) == results["as_of"]

        replay = second.debit(DEBIT)
        assert (replay.body, replay.replayed) == (results["debit"][0], True)
        refund = second.refund(REFUND)
        assert (refund.body, refund.replayed) == (results["refund"][0], True)
        with pytest.raises(LedgerError) as conflict:
            second.debit(Debit(wallet_id=WALLET, amount=151, idempotency_key="debit-1"))
        assert conflict.value.code == "idempotency_conflict"
        assert second.sweep() == 0

        after = second.debit(Debit(wallet_id=WALLET, amount=30, idempotency_key="debit-2"))
        assert not after.replayed
        assert after.body["balance"]["available"] == 900
        assert second.wallet(WALLET)["version"] == results["after sweep"]["version"] + 1
    finally:
        second.close()


def test_store_env_maps_each_scheme() -> None:
    assert store_env("memory://") == {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    sqlite = store_env("sqlite:////srv/ledger/ledger.sqlite3")
    assert sqlite["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert sqlite["SQLITE_DBNAME"] == "/srv/ledger/ledger.sqlite3"

    pg = store_env(
        "postgresql://app:p%40ss@db.internal:6543/ledger"
        "?schema=s1&pool_size=3&max_overflow=4&max_waiting=9&connect_timeout=2&lock_timeout=1"
    )
    assert pg["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (pg["POSTGRES_HOST"], pg["POSTGRES_PORT"], pg["POSTGRES_DBNAME"]) == (
        "db.internal",
        "6543",
        "ledger",
    )
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"]) == ("app", "p@ss")
    assert pg["POSTGRES_SCHEMA"] == "s1"
    assert (pg["POSTGRES_POOL_SIZE"], pg["POSTGRES_MAX_OVERFLOW"]) == ("3", "4")
    assert pg["POSTGRES_MAX_WAITING"] == "9"
    assert (pg["POSTGRES_CONNECT_TIMEOUT"], pg["POSTGRES_LOCK_TIMEOUT"]) == ("2", "1")

    defaults = store_env("postgres://db.internal/ledger")
    assert defaults["POSTGRES_PORT"] == "5432"
    assert defaults["POSTGRES_USER"] == "postgres"
    # Fail fast instead of eventsourcing's 30 s waits retried 10 times.
    assert int(defaults["POSTGRES_CONNECT_TIMEOUT"]) <= 5
    assert int(defaults["POSTGRES_LOCK_TIMEOUT"]) > 0
    assert "POSTGRES_SCHEMA" not in defaults


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ledger.sqlite3",
        "mysql://db.internal/ledger",
        "redis://cache:6379/0",
        "file:///srv/ledger.sqlite3",
        "sqlite://",
        "postgresql:///ledger",
        "postgresql://db.internal/",
        "postgresql://db.internal/ledger?sslmode=require",
        "postgresql://db.internal/ledger?schema=s&Pool_Size=3",
    ],
)
def test_store_env_rejects_unknown_schemes_and_options(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        store_env(url)


@pytest.mark.parametrize(
    "url", ["memory://?schema=s", "sqlite:////srv/ledger.sqlite3?lock_timeout=30"]
)
def test_store_env_rejects_options_on_stores_that_take_none(url: str) -> None:
    with pytest.raises(ValueError, match="option"):
        store_env(url)
