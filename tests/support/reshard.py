"""A populated store and its snapshot, shared by the reshard tests (in memory and on Postgres)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.app.alerting import Alerting, PutAlertSettings, PutWebhook
from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    PutPriceBook,
    SetBudget,
)
from ledger.app.keys import issue_key
from ledger.app.service import CreditLedger

__all__ = [
    "RATES",
    "WALLETS",
    "populate",
    "snapshot",
    "url",
    "usage_batch",
]


WALLETS = [f"w{n}" for n in range(8)]


RATES = [{"model": "m", "input_per_million": 1_000_000, "output_per_million": 2_000_000}]


def url(tmp_path: Path, name: str) -> str:
    """A SQLite store URL in ``tmp_path``."""
    return f"sqlite:///{tmp_path / name}.sqlite3"


def usage_batch(prefix: str, bill: bool) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{wallet_id}",
            "wallet_id": wallet_id,
            "type": "llm.completion",
            "occurred_at": "2026-01-01T00:00:00Z",
            "subject": {"user_id": "u1", "model": "m"},
            "quantities": {"input_tokens": 2, "output_tokens": 1},
            "bill": bill,
        }
        for wallet_id in WALLETS
    ]


def populate(ledger: CreditLedger) -> dict[str, Any]:
    """A bit of everything the ledger records; returns what later checks replay."""
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=RATES))
    for n, wallet_id in enumerate(WALLETS):
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id, idempotency_key=f"open-{wallet_id}"))
        ledger.grant(GrantCredits(wallet_id=wallet_id, amount=500, category="paid", grant_id="g"))
        ledger.set_budget(SetBudget(wallet_id=wallet_id, budget_id="b", limit=300, period="month"))
        ledger.debit(Debit(wallet_id=wallet_id, amount=10 + n, idempotency_key="d1"))
        ledger.debit(Debit(wallet_id=wallet_id, usage={"model": "m", "input_tokens": 5}))
        ledger.place_hold(PlaceHold(wallet_id=wallet_id, amount=40, hold_id="h1"))
        ledger.capture_hold(CaptureHold(wallet_id=wallet_id, hold_id="h1", amount=25))
        ledger.place_hold(PlaceHold(wallet_id=wallet_id, amount=7, hold_id="h2"))
        Alerting(ledger).put_alert_settings(
            PutAlertSettings(wallet_id=wallet_id, balance_low_threshold=n)
        )
    ledger.ingest_usage(usage_batch("plain", bill=False))
    ledger.ingest_usage(usage_batch("billed", bill=True))
    Alerting(ledger).put_webhook(
        PutWebhook(
            webhook_id="hook",
            url="http://127.0.0.1:9/x",
            secret="s" * 32,
            events=["hold.expired"],
        )
    )
    _, key = issue_key(ledger, ["service"], "svc")
    return {"key": key}


def snapshot(ledger: CreditLedger) -> dict[str, Any]:
    """Everything a client can read of the wallets, events included (versions and all)."""
    return {
        wallet_id: {
            "wallet": ledger.wallet(wallet_id),
            "events": ledger.wallet_events(wallet_id, limit=1000)["events"],
            "holds": [ledger.hold(wallet_id, h) for h in ("h1", "h2")],
            "budgets": ledger.budgets(wallet_id),
            "alerts": Alerting(ledger).alert_settings(wallet_id),
        }
        for wallet_id in WALLETS
    }
