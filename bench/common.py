"""Paths, targets and output shared by the benchmark modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH",
    "GRANT",
    "HOT_ROW_SQL",
    "ROOT",
    "TARGET_EVENTS_PER_S",
    "WRK",
    "emit",
    "log",
]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK = BENCH / "wrk"
HOT_ROW_SQL = BENCH / "pgbench" / "hot_row.sql"
GRANT = 10**12  # credits per benchmark wallet: far more than any run can spend
TARGET_EVENTS_PER_S = 50_000.0  # usage ingest, batches of 1,000 with dedup on


def log(message: str) -> None:
    print(f">> {message}", file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)
