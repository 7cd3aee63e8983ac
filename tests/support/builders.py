"""Test builders shared by every tier: a controllable clock, times, ledgers and wallets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.app.commands import GrantCredits, OpenWallet
from ledger.app.service import CreditLedger
from ledger.domain.wallet import Wallet
from ledger.store.env import store_env

__all__ = [
    "T0",
    "FakeClock",
    "at",
    "group_commit_in_tests",
    "make_ledger",
    "new_wallet",
    "open_funded_wallet",
]


def at(text: str) -> datetime:
    """An aware UTC datetime from ISO text: ``at("2026-01-01T00:00")``."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


T0 = at("2026-01-01T00:00")


class FakeClock:
    """A clock tests move by hand; the ledger never reads the real time in tests."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


def group_commit_in_tests() -> bool:
    """Which write path tests use: ``LEDGER_TEST_GROUP_COMMIT=0`` selects the direct one."""
    return os.environ.get("LEDGER_TEST_GROUP_COMMIT", "1") not in {"0", "false", "no"}


def make_ledger(
    url: str = "memory://",
    clock: FakeClock | None = None,
    env: Mapping[str, str] | None = None,
    *,
    group_commit: bool | None = None,
) -> CreditLedger:
    """A CreditLedger on the given store (in memory by default) driven by ``clock``.

    ``group_commit`` defaults to the ``LEDGER_TEST_GROUP_COMMIT`` environment variable (on
    unless "0", as in production), so the suite can run once through each write path.
    """
    if group_commit is None:
        group_commit = group_commit_in_tests()
    return CreditLedger(
        {**store_env(url), **(env or {})}, clock=clock or FakeClock(), group_commit=group_commit
    )


def new_wallet(wallet_id: str = "acme", *, at_: datetime = T0, overdraft_limit: int = 0) -> Wallet:
    """A bare wallet aggregate (no store), for pure domain tests."""
    return Wallet.open(
        wallet_id=wallet_id,
        customer_id=wallet_id,
        unit="credits",
        overdraft_limit=overdraft_limit,
        price_book_id="default",
        metadata={},
        at=at_,
    )


def open_funded_wallet(ledger: CreditLedger, wallet_id: str = "acme", amount: int = 1000) -> None:
    """Open ``wallet_id`` and grant it ``amount`` paid credits (grant ``g1``)."""
    ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
    ledger.grant(GrantCredits(wallet_id=wallet_id, amount=amount, category="paid", grant_id="g1"))


USAGE_RECEIVED_AT = "2026-03-01T00:00:00Z"


def usage_record(event_id: str, **changes: Any) -> dict[str, Any]:
    """One recorded usage event with every key the usage batch stores; ``changes`` override."""
    base: dict[str, Any] = {
        "wallet_id": "acme",
        "event_id": event_id,
        "type": "llm.completion",
        "occurred_at": "2026-03-01T00:00:00Z",
        "received_at": USAGE_RECEIVED_AT,
        "subject": {"user_id": "u1"},
        "quantities": {"output_tokens": 3},
        "properties": {},
        "bill": False,
        "late": False,
        "billed": 0,
        "debt": 0,
        "uncollected": 0,
        "debit_id": None,
        "rating": None,
    }
    return {**base, **changes}
