"""What PostgreSQL did during a timed run: statements, transactions and WAL flushes.

Counters are read before and after the run from ``pg_stat_statements`` (calls of each
statement a client sent; exact and immediate), ``pg_stat_database`` (commits) and
``pg_stat_wal`` (WAL records, bytes, writes and syncs, i.e. flushes to disk). PostgreSQL 15
backends publish the last two at most once a second while busy and ten seconds after going
idle, so each snapshot is taken after ``settle`` seconds of quiet (``--stats-settle``).

Figures are per decision and, for the ledger, per committed batch: a batch is one call of
the events ``INSERT`` (eventsourcing inserts a batch's events, hold records and receipts in
one statement); the peer commits one request per transaction, so its batch is a request.
The ledger's in-process projection worker writes its read models in the same cluster while
the load runs: its statements and commits are counted too, as the cost of the whole service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

__all__ = ["PgCounters", "enable", "per_batch", "snapshot"]

_WAL_COLUMNS = ("wal_records", "wal_fpi", "wal_bytes", "wal_write", "wal_sync", "wal_sync_time")
_WAL_QUERY = "SELECT " + ", ".join(_WAL_COLUMNS) + " FROM pg_stat_wal"  # noqa: S608 - constants
_TOP = 12


@dataclass(frozen=True)
class PgCounters:
    statements: dict[str, int]
    commits: int
    rollbacks: int
    wal: dict[str, float]
    xid: int


def enable(database_url: str) -> bool:
    """Create the extension in the benchmark's database; False if it is not preloaded."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    except psycopg.Error:
        return False
    return True


def snapshot(database_url: str, settle: float) -> PgCounters:
    """The counters after ``settle`` seconds of quiet (see the module's docstring)."""
    time.sleep(settle)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, sum(calls)::bigint FROM pg_stat_statements GROUP BY query"
        ).fetchall()
        db = conn.execute(
            "SELECT sum(xact_commit)::bigint, sum(xact_rollback)::bigint FROM pg_stat_database"
        ).fetchone()
        wal = conn.execute(_WAL_QUERY).fetchone()
        xid = conn.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
    return PgCounters(
        statements={str(q): int(n) for q, n in rows},
        commits=int(db[0]) if db else 0,
        rollbacks=int(db[1]) if db else 0,
        wal=dict(zip(_WAL_COLUMNS, (float(v) for v in wal or ()), strict=False)),
        xid=int(xid[0]) if xid else 0,
    )


def _is_batch_insert(query: str) -> bool:
    lowered = " ".join(query.lower().split())
    return lowered.startswith("insert into") and "_events" in lowered.split("(")[0]


def per_batch(
    before: PgCounters, after: PgCounters, decisions: int, *, peer: bool = False
) -> dict[str, Any]:
    """Deltas per decision and per committed batch, and the most called statements."""
    calls = {
        q: n - before.statements.get(q, 0)
        for q, n in after.statements.items()
        if n - before.statements.get(q, 0) > 0
    }
    batches = decisions if peer else sum(n for q, n in calls.items() if _is_batch_insert(q))
    wal = {k: after.wal.get(k, 0.0) - before.wal.get(k, 0.0) for k in _WAL_COLUMNS}
    totals = {
        "statements": sum(calls.values()),
        "commits": after.commits - before.commits,
        "rollbacks": after.rollbacks - before.rollbacks,
        "write_transactions": after.xid - before.xid,
        "wal_syncs": wal["wal_sync"],
        "wal_writes": wal["wal_write"],
        "wal_bytes": wal["wal_bytes"],
        "wal_full_page_images": wal["wal_fpi"],
    }

    def per(n: float, d: int) -> float | None:
        return round(n / d, 3) if d else None

    top = sorted(calls.items(), key=lambda item: -item[1])[:_TOP]
    return {
        "decisions": decisions,
        "batches": batches,
        "decisions_per_batch": per(decisions, batches),
        "totals": totals,
        "per_batch": {k: per(v, batches) for k, v in totals.items()},
        "per_decision": {k: per(v, decisions) for k, v in totals.items()},
        "wal_sync_ms_per_sync": per(wal["wal_sync_time"], int(wal["wal_sync"])),
        "top_statements": [[" ".join(q.split())[:120], n, per(n, batches)] for q, n in top],
    }
