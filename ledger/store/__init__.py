"""Persistence: the only package with SQL or persistence classes: where events live (store URLs),
the recorders that keep usage rows, and the shard map recorded in the store.
"""

from __future__ import annotations

from ledger.store.env import store_env
from ledger.store.recorders import (
    UsageIdRecorder,
    UsagePOPORecorder,
    UsagePostgresRecorder,
    UsageSQLiteRecorder,
    usage_ids_table_name,
    usage_recorder_for,
)
from ledger.store.shard_map import SHARD_MAP_ID, ShardCountMismatch, ShardMap, check_shard_count

__all__ = [
    "SHARD_MAP_ID",
    "ShardCountMismatch",
    "ShardMap",
    "UsageIdRecorder",
    "UsagePOPORecorder",
    "UsagePostgresRecorder",
    "UsageSQLiteRecorder",
    "check_shard_count",
    "store_env",
    "usage_ids_table_name",
    "usage_recorder_for",
]
