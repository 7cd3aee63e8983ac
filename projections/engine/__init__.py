"""The projection engine: view stores and SQL dialects, reading the log, the runner that keeps
views current, rebuild, reconcile, status and the reference fold.
"""

from __future__ import annotations

from projections.engine.base import (
    Change,
    InvariantViolation,
    Projection,
    UsageChange,
    check_change,
)
from projections.engine.connect import VIEWS_SUFFIX, open_views, views_path
from projections.engine.dialect import POSTGRES, SQLITE, Dialect, day_start, hour_start, postgres
from projections.engine.fold import Fold
from projections.engine.log import (
    MAX_BATCH,
    OTHER_TOPIC_PREFIXES,
    Batch,
    LogReader,
    Other,
    shard_readers,
)
from projections.engine.meta import (
    Generations,
    Tracking,
    TrackingConflict,
    advance,
    heartbeat,
    insert_tracking,
    install,
    lock_tracking,
    read_generations,
    read_heartbeats,
    read_tracking,
    shard_positions,
    split_tracking_name,
    tracking_name,
)
from projections.engine.pgstore import ListenWaker, PostgresViews
from projections.engine.reading import (
    Live,
    ProjectionNotReady,
    applied_clause,
    journal_filter,
    live,
)
from projections.engine.store import SleepWaker, SQLiteViews, Tx, ViewStore, Waker

__all__ = [
    "MAX_BATCH",
    "OTHER_TOPIC_PREFIXES",
    "POSTGRES",
    "SQLITE",
    "VIEWS_SUFFIX",
    "Batch",
    "Change",
    "Dialect",
    "Fold",
    "Generations",
    "InvariantViolation",
    "ListenWaker",
    "Live",
    "LogReader",
    "Other",
    "PostgresViews",
    "Projection",
    "ProjectionNotReady",
    "SQLiteViews",
    "SleepWaker",
    "Tracking",
    "TrackingConflict",
    "Tx",
    "UsageChange",
    "ViewStore",
    "Waker",
    "advance",
    "applied_clause",
    "check_change",
    "day_start",
    "heartbeat",
    "hour_start",
    "insert_tracking",
    "install",
    "journal_filter",
    "live",
    "lock_tracking",
    "open_views",
    "postgres",
    "read_generations",
    "read_heartbeats",
    "read_tracking",
    "shard_positions",
    "shard_readers",
    "split_tracking_name",
    "tracking_name",
    "views_path",
]
