"""Read models built from the ledger's notification log, with exactly-once tracking.

Projections (``journal``, ``balances``, ``usage``, ``budget_status``) live in SQL beside
the events: PostgreSQL (same database and schema), an SQLite file beside the events file,
or SQLite in memory for in-memory ledgers. :class:`ProjectionRunner` keeps them current,
:mod:`projections.queries` answers from them, :mod:`projections.rebuild` rebuilds one
without downtime, :mod:`projections.reconcile` checks them against the log, and
:mod:`projections.entrypoints` has the functions the CLI calls.
"""

from __future__ import annotations

from projections.catalog import PROJECTIONS
from projections.engine.base import InvariantViolation
from projections.engine.connect import open_views
from projections.engine.store import ViewStore
from projections.positions import wait_for_position
from projections.reconcile import reconcile_views
from projections.runner import ProjectionRunner, install_views
from projections.status import projection_status

__all__ = [
    "PROJECTIONS",
    "InvariantViolation",
    "ProjectionRunner",
    "ViewStore",
    "install_views",
    "open_views",
    "projection_status",
    "reconcile_views",
    "wait_for_position",
]
