"""What PostgreSQL did during a timed run: statements, transactions and WAL flushes.

Counters are read before and after the run from ``pg_stat_statements`` (calls of each
statement a client sent; exact and immediate), ``pg_stat_database`` (commits) and
``pg_stat_wal`` (WAL records, bytes, writes and syncs, i.e. flushes to disk). PostgreSQL 15
backends publish the last two at most once a second while busy and ten seconds after going
idle, so each snapshot is taken after ``settle`` seconds of quiet (``--stats-settle``).

Figures are per decision and, for the ledger, per committed batch: a batch is one call of
the events ``INSERT`` (eventsourcing inserts a batch's events, hold records and receipts in
one statement); the peer commits one request per transaction, so its batch is a request.
The projection worker (``ledger project``) writes the read models in the same cluster while
the load runs; it connects as its own role (:data:`PROJECTOR_ROLE`), so its statements are
counted apart from the write path's. Commits, write transactions and WAL flushes are the
cluster's, projection worker included (its commits do not wait for a flush: it writes with
``synchronous_commit=off``, the WAL writer flushes them in the background).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

__all__ = [
    "PROJECTOR_ROLE",
    "PgCounters",
    "as_role",
    "create_projector_role",
    "enable",
    "per_batch",
    "snapshot",
]

PROJECTOR_ROLE = "ledger_projector"

_WAL_COLUMNS = ("wal_records", "wal_fpi", "wal_bytes", "wal_write", "wal_sync", "wal_sync_time")
_WAL_QUERY = "SELECT " + ", ".join(_WAL_COLUMNS) + " FROM pg_stat_wal"  # noqa: S608 - constants
_TOP = 12


@dataclass(frozen=True)
class PgCounters:
    statements: dict[tuple[str, str], int]  # (role, query) -> calls
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
            "SELECT r.rolname, s.query, sum(s.calls)::bigint FROM pg_stat_statements s"
            " JOIN pg_roles r ON r.oid = s.userid GROUP BY 1, 2"
        ).fetchall()
        db = conn.execute(
            "SELECT sum(xact_commit)::bigint, sum(xact_rollback)::bigint FROM pg_stat_database"
        ).fetchone()
        wal = conn.execute(_WAL_QUERY).fetchone()
        xid = conn.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
    return PgCounters(
        statements={(str(role), str(q)): int(n) for role, q, n in rows},
        commits=int(db[0]) if db else 0,
        rollbacks=int(db[1]) if db else 0,
        wal=dict(zip(_WAL_COLUMNS, (float(v) for v in wal or ()), strict=False)),
        xid=int(xid[0]) if xid else 0,
    )


def create_projector_role(database_url: str) -> None:
    """The role the projection worker connects as (a superuser of the throwaway cluster)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PROJECTOR_ROLE,))
        if role.fetchone() is None:
            conn.execute(f"CREATE ROLE {PROJECTOR_ROLE} LOGIN SUPERUSER")


def as_role(database_url: str, role: str) -> str:
    """``database_url`` (``postgresql://user@host...``) with ``role`` as its user."""
    scheme, _, rest = database_url.partition("://")
    return f"{scheme}://{role}@{rest.split('@', 1)[-1]}"


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
    ours = {
        q: n
        for (role, q), n in calls.items()
        if role != PROJECTOR_ROLE and "pg_stat" not in q and "pg_snapshot_xmax" not in q
    }
    projector = sum(n for (role, _), n in calls.items() if role == PROJECTOR_ROLE)
    batches = decisions if peer else sum(n for q, n in ours.items() if _is_batch_insert(q))
    wal = {k: after.wal.get(k, 0.0) - before.wal.get(k, 0.0) for k in _WAL_COLUMNS}
    totals = {
        "statements": sum(ours.values()),
        "explicit_commits": sum(n for q, n in ours.items() if q.strip().upper() == "COMMIT"),
        "projection_worker_statements": projector,
        "cluster_commits": after.commits - before.commits,
        "cluster_rollbacks": after.rollbacks - before.rollbacks,
        "write_transactions": after.xid - before.xid,
        "wal_syncs": wal["wal_sync"],
        "wal_writes": wal["wal_write"],
        "wal_bytes": wal["wal_bytes"],
        "wal_full_page_images": wal["wal_fpi"],
    }

    def per(n: float, d: int) -> float | None:
        return round(n / d, 3) if d else None

    top = sorted(ours.items(), key=lambda item: -item[1])[:_TOP]
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
