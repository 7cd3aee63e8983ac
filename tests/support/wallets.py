"""Read helpers for the unit tests: a wallet's events, postings and account sums.

Expectations stay hand-computed in the tests; these only fetch what the ledger recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ledger.app.commands import GrantCredits, OpenWallet, PlaceHold, SetBudget
from ledger.app.service import CreditLedger
from tests.support.builders import T0, FakeClock, make_ledger

__all__ = [
    "account_balances",
    "budget_ledger",
    "event_types",
    "events",
    "grant",
    "held_wallet",
    "open_wallet",
    "postings",
    "set_budget",
    "version",
]


def events(ledger: CreditLedger, wallet_id: str, after_version: int = 0) -> list[dict[str, Any]]:
    """Every recorded event of the wallet after ``after_version``, oldest first."""
    rows: list[dict[str, Any]] = ledger.wallet_events(wallet_id, after_version, limit=1000)[
        "events"
    ]
    return rows


def event_types(ledger: CreditLedger, wallet_id: str, after_version: int = 0) -> list[str]:
    return [str(e["type"]) for e in events(ledger, wallet_id, after_version)]


def postings(ledger: CreditLedger, wallet_id: str, after_version: int = 0) -> list[dict[str, Any]]:
    """The postings of the wallet's events after ``after_version``, in recorded order."""
    return [p for e in events(ledger, wallet_id, after_version) for p in e["data"]["postings"]]


def version(ledger: CreditLedger, wallet_id: str) -> int:
    """The wallet's stored version (what has been recorded, not what a read would add)."""
    return int(ledger.wallet(wallet_id)["version"])


def account_balances(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Σ debits - Σ credits per account (credit-normal accounts come out negative)."""
    balances: dict[str, int] = defaultdict(int)
    for row in rows:
        balances[row["debit"]] += row["amount"]
        balances[row["credit"]] -= row["amount"]
    return dict(balances)


def grant(ledger: CreditLedger, wallet_id: str, grant_id: str, amount: int, **options: Any) -> None:
    """Grant ``amount`` credits (``paid`` unless ``category`` says otherwise) as ``grant_id``."""
    options.setdefault("category", "paid")
    ledger.grant(GrantCredits(wallet_id=wallet_id, grant_id=grant_id, amount=amount, **options))


def open_wallet(ledger: CreditLedger, wallet_id: str = "acme", overdraft_limit: int = 0) -> None:
    ledger.open_wallet(OpenWallet(wallet_id=wallet_id, overdraft_limit=overdraft_limit))


def budget_ledger(start: datetime = T0) -> tuple[CreditLedger, FakeClock]:
    """acme opened at ``start`` with 10,000 paid credits (g1) that never expire."""
    clock = FakeClock(start)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 10_000)
    return ledger, clock


def set_budget(
    ledger: CreditLedger,
    limit: int = 100,
    *,
    period: str = "month",
    scope: dict[str, str] | None = None,
    timezone: str = "UTC",
    mode: str = "hard",
) -> dict[str, Any]:
    """Create or change budget ``b`` of acme; returns the response body."""
    command = SetBudget(
        wallet_id="acme",
        budget_id="b",
        limit=limit,
        period=period,
        scope=scope or {},
        timezone=timezone,
        mode=mode,
    )
    body: dict[str, Any] = ledger.set_budget(command).body
    return body


def held_wallet(overdraft_limit: int = 0, g1: int = 30, g2: int = 100) -> tuple[CreditLedger, int]:
    """acme: g1 (priority 0) and g2, then hold h1 of 50 = g1 30 + g2 20 (by default).

    Returns the ledger and the wallet's version after the hold.
    """
    ledger = make_ledger()
    open_wallet(ledger, overdraft_limit=overdraft_limit)
    grant(ledger, "acme", "g1", g1, priority=0)
    grant(ledger, "acme", "g2", g2)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=50))
    return ledger, version(ledger, "acme")
