"""The alerts projection's tables and statements, and how alert ids spell things.

See :mod:`projections.alerts.projection` for what the tables hold and the ids' shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["DDL", "SQL", "grant_alert_id", "grant_of", "iso", "threshold_text"]

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (wallet_id TEXT PRIMARY KEY, available {bigint} NOT NULL,"
    " low_threshold {bigint}, lead_seconds {bigint} NOT NULL, below INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t_hooks} (webhook_id TEXT PRIMARY KEY, url TEXT NOT NULL,"
    " secret TEXT NOT NULL, events TEXT NOT NULL, active INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t_budgets} (wallet_id TEXT NOT NULL, budget_id TEXT NOT NULL,"
    " limit_amount {bigint} NOT NULL, thresholds TEXT NOT NULL, removed INTEGER NOT NULL,"
    " PRIMARY KEY (wallet_id, budget_id))",
    "CREATE TABLE IF NOT EXISTS {t_periods} (wallet_id TEXT NOT NULL, budget_id TEXT NOT NULL,"
    " period_start {ts} NOT NULL, spent {bigint} NOT NULL,"
    " PRIMARY KEY (wallet_id, budget_id, period_start))",
    "CREATE TABLE IF NOT EXISTS {t_grants} (wallet_id TEXT NOT NULL, grant_id TEXT NOT NULL,"
    " expires_at {ts} NOT NULL, remaining {bigint} NOT NULL, alert_at {ts} NOT NULL,"
    " alert_id TEXT NOT NULL, PRIMARY KEY (wallet_id, grant_id))",
    "CREATE INDEX IF NOT EXISTS {ix_due} ON {t_grants} (alert_at)",
)
SQL = {
    "wallet": "SELECT available, low_threshold, lead_seconds, below FROM {t} WHERE wallet_id = ?",
    "wallets": "SELECT wallet_id, available, low_threshold, lead_seconds, below FROM {t}"
    " WHERE wallet_id IN",
    "grants_in": "SELECT wallet_id, grant_id FROM {t_grants} WHERE wallet_id IN",
    "save_wallet": "INSERT INTO {t} AS cur (wallet_id, available, low_threshold, lead_seconds,"
    " below) VALUES (?, ?, ?, ?, ?) ON CONFLICT (wallet_id) DO UPDATE SET"
    " available = excluded.available, low_threshold = excluded.low_threshold,"
    " lead_seconds = excluded.lead_seconds, below = excluded.below",
    "hooks": "SELECT webhook_id, events FROM {t_hooks} WHERE active = 1",
    "save_hook": "INSERT INTO {t_hooks} AS cur (webhook_id, url, secret, events, active)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO UPDATE SET url = excluded.url,"
    " secret = excluded.secret, events = excluded.events, active = excluded.active",
    "budget": "SELECT limit_amount, thresholds, removed FROM {t_budgets}"
    " WHERE wallet_id = ? AND budget_id = ?",
    "save_budget": "INSERT INTO {t_budgets} AS cur (wallet_id, budget_id, limit_amount,"
    " thresholds, removed) VALUES (?, ?, ?, ?, ?) ON CONFLICT (wallet_id, budget_id) DO UPDATE"
    " SET limit_amount = excluded.limit_amount, thresholds = excluded.thresholds,"
    " removed = excluded.removed",
    "period": "SELECT spent FROM {t_periods} WHERE wallet_id = ? AND budget_id = ?"
    " AND period_start = ?",
    "save_period": "INSERT INTO {t_periods} AS cur (wallet_id, budget_id, period_start, spent)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (wallet_id, budget_id, period_start) DO UPDATE"
    " SET spent = excluded.spent",
    "add_grant": "INSERT INTO {t_grants} (wallet_id, grant_id, expires_at, remaining, alert_at,"
    " alert_id) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (wallet_id, grant_id) DO NOTHING",
    "end_grant": "DELETE FROM {t_grants} WHERE wallet_id = ? AND grant_id = ?",
    "move_grant": "UPDATE {t_grants} SET remaining = remaining + ?"
    " WHERE wallet_id = ? AND grant_id = ?",
    "grants_of": "SELECT grant_id, expires_at FROM {t_grants} WHERE wallet_id = ?",
    "due_at": "UPDATE {t_grants} SET alert_at = ? WHERE wallet_id = ? AND grant_id = ?",
}


def iso(when: datetime) -> str:
    """An instant as alert ids and payloads spell it: UTC, ``Z``."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def threshold_text(bps: int) -> str:
    """A threshold (basis points) as the API shows it: ``0.75``, ``1.0``."""
    return repr(bps / 10_000)


def grant_alert_id(wallet_id: str, grant_id: str, expires_at: datetime) -> str:
    return f"grant.expiring:{wallet_id}:{grant_id}:{iso(expires_at)}"


def grant_of(account: str) -> str | None:
    """The grant id of a ``wallet:<w>:grant:<g>`` account (segments escape ':' as %3A)."""
    parts = account.split(":")
    if len(parts) == 4 and parts[0] == "wallet" and parts[2] == "grant":
        return parts[3].replace("%3A", ":")
    return None
