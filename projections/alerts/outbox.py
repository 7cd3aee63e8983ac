"""The alert outbox: alerts, their deliveries (one per alert and webhook) and the delivery log.

Unlike a projection's tables these three are not per generation: a rebuild replays the log
into new generation tables but must not deliver anything twice, so the outbox is keyed by
each alert's *stable* id and every insert is ``ON CONFLICT DO NOTHING``. Replaying or
rebuilding finds every alert already there and changes nothing.

* ``alert_outbox``: one row per alert (``alert_id``, ``type``, ``wallet_id``,
  ``occurred_at``, ``data`` as JSON text).
* ``alert_deliveries``: per (alert, webhook) its ``status`` (pending | retrying | delivered
  | failed), ``attempts``, ``next_attempt_at`` (when the worker may try it again) and
  ``first_attempt_at`` (wall-clock time: the maximum age counts from it).
* ``alert_log``: append-only, one row when a delivery is queued (``pending``) and one per
  attempt, with a serial ``seq`` to page by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from projections.engine.store import Tx

__all__ = [
    "FIXED_TABLES",
    "create_outbox",
    "delivery_log",
    "emit",
    "log_row",
]

FIXED_TABLES = {"outbox": "alert_outbox", "deliveries": "alert_deliveries", "log": "alert_log"}
_SERIAL = {"postgresql": "BIGSERIAL PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}

DDL = (
    "CREATE TABLE IF NOT EXISTS {outbox} (alert_id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " wallet_id TEXT NOT NULL, occurred_at {ts} NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {deliveries} (alert_id TEXT NOT NULL, webhook_id TEXT NOT NULL,"
    " status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {ts} NOT NULL,"
    " first_attempt_at {ts}, PRIMARY KEY (alert_id, webhook_id))",
    "CREATE INDEX IF NOT EXISTS {ix_alert_deliveries_due} ON {deliveries}"
    " (status, next_attempt_at)",
    "CREATE TABLE IF NOT EXISTS {log} (seq <serial>, webhook_id TEXT NOT NULL,"
    " alert_id TEXT NOT NULL, type TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " status TEXT NOT NULL, response_status INTEGER, error TEXT, duration_ms INTEGER,"
    " attempted_at {ts}, next_attempt_at {ts})",
    "CREATE INDEX IF NOT EXISTS {ix_alert_log_webhook} ON {log} (webhook_id, seq)",
)
INSERT_ALERT = (
    "INSERT INTO {outbox} (alert_id, type, wallet_id, occurred_at, data) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (alert_id) DO NOTHING"
)
INSERT_DELIVERY = (
    "INSERT INTO {deliveries} (alert_id, webhook_id, status, attempts, next_attempt_at)"
    " VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (alert_id, webhook_id) DO NOTHING"
)
INSERT_LOG = (
    "INSERT INTO {log} (webhook_id, alert_id, type, attempt, status, response_status, error,"
    " duration_ms, attempted_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_LOG = (
    "SELECT seq, alert_id, type, attempt, status, response_status, error, duration_ms,"
    " attempted_at, next_attempt_at FROM {log} WHERE webhook_id = ? AND seq > ?"
    " ORDER BY seq LIMIT ?"
)


def _names() -> dict[str, str]:
    return {
        **FIXED_TABLES,
        "ix_alert_deliveries_due": "alert_deliveries_due",
        "ix_alert_log_webhook": "alert_log_webhook",
    }


def _sql(tx: Tx, template: str) -> str:
    return tx.dialect.sql(template.replace("<serial>", _SERIAL[tx.dialect.name]), **_names())


def create_outbox(tx: Tx) -> None:
    """Create the outbox tables if missing (idempotent; never dropped by a rebuild)."""
    for statement in DDL:
        tx.execute(_sql(tx, statement))


def log_row(
    tx: Tx,
    *,
    webhook_id: str,
    alert_id: str,
    alert_type: str,
    attempt: int,
    status: str,
    response_status: int | None = None,
    error: str | None = None,
    duration_ms: int | None = None,
    attempted_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Append one entry to a webhook's delivery log."""
    to_db = tx.dialect.to_db
    tx.execute(
        _sql(tx, INSERT_LOG),
        (
            webhook_id,
            alert_id,
            alert_type,
            attempt,
            status,
            response_status,
            error,
            duration_ms,
            None if attempted_at is None else to_db(attempted_at),
            None if next_attempt_at is None else to_db(next_attempt_at),
        ),
    )


def emit(
    tx: Tx,
    *,
    alert_id: str,
    alert_type: str,
    wallet_id: str,
    occurred_at: datetime,
    data: Mapping[str, Any],
    webhooks: Iterable[str],
) -> bool:
    """Put an alert in the outbox and queue it for ``webhooks`` (those subscribed to its
    type); False, and nothing queued, when the alert is there already (a replay)."""
    to_db = tx.dialect.to_db
    body = json.dumps(dict(data), sort_keys=True, separators=(",", ":"))
    inserted = tx.execute(
        _sql(tx, INSERT_ALERT), (alert_id, alert_type, wallet_id, to_db(occurred_at), body)
    )
    if not inserted:
        return False
    for webhook_id in sorted(webhooks):
        # Due at once: next_attempt_at is the alert's own (past or present) business time.
        queued = tx.execute(
            _sql(tx, INSERT_DELIVERY),
            (alert_id, webhook_id, to_db(occurred_at)),
        )
        if queued:
            log_row(
                tx,
                webhook_id=webhook_id,
                alert_id=alert_id,
                alert_type=alert_type,
                attempt=0,
                status="pending",
                next_attempt_at=occurred_at,
            )
    return True


def delivery_log(tx: Tx, webhook_id: str, after: int, limit: int) -> dict[str, Any]:
    """One page of a webhook's delivery log, oldest first; ``next_after`` continues it
    (None on the last page)."""
    from_db = tx.dialect.from_db
    rows = tx.all(_sql(tx, SELECT_LOG), (webhook_id, after, limit + 1))
    entries = [
        {
            "seq": int(seq),
            "alert_id": alert_id,
            "type": alert_type,
            "attempt": int(attempt),
            "status": status,
            "response_status": None if code is None else int(code),
            "error": error,
            "duration_ms": None if duration is None else int(duration),
            "attempted_at": None if attempted is None else from_db(attempted),
            "next_attempt_at": None if next_at is None else from_db(next_at),
        }
        for (
            seq,
            alert_id,
            alert_type,
            attempt,
            status,
            code,
            error,
            duration,
            attempted,
            next_at,
        ) in rows[:limit]
    ]
    next_after = entries[-1]["seq"] if len(rows) > limit and entries else None
    return {"deliveries": entries, "next_after": next_after}
