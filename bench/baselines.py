"""Baselines measured in the same invocation: pgbench's hot row, and ``COPY`` for ingest."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import GRANT, HOT_ROW_SQL

__all__ = ["copy_baseline", "percentile_ms", "pgbench_baseline"]


def pgbench_baseline(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Single-row ``UPDATE ... WHERE balance >= 1`` on one hot row, 4 clients."""
    with psycopg.connect(options.database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_baseline'")
        if exists.fetchone() is None:
            conn.execute("CREATE DATABASE bench_baseline")
    base_url = options.database_url.rsplit("/", 1)[0] + "/bench_baseline"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS acct")
        conn.execute("CREATE TABLE acct(id int primary key, balance bigint)")
        conn.execute("INSERT INTO acct VALUES (1, %s)", (GRANT,))
    logs = Path(tempfile.mkdtemp(prefix="pgbench-", dir=workdir))
    host, port = options.pg_host, options.pg_port
    cmd = [options.pgbench, "-h", host, "-p", str(port), "-U", "postgres", "-n", "-c", "4"]
    cmd += ["-j", "2", "-T", str(int(options.seconds)), "-f", str(HOT_ROW_SQL)]
    cmd += ["-l", "--log-prefix", str(logs / "pgbench"), "bench_baseline"]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=options.seconds + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: pgbench failed:\n{done.stdout}{done.stderr}")
    tps = failed = 0.0
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        elif line.startswith("number of failed transactions"):
            failed = float(line.split(":")[1].split()[0])
    latencies = sorted(
        int(row.split()[2])
        for path in logs.iterdir()
        for row in path.read_text().splitlines()
        if row.strip()
    )
    return {
        "scenario": "baseline_pgbench_hot_row",
        "seconds": int(options.seconds),
        "connections": 4,
        "throughput_per_s": round(tps, 1),
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "p999_ms": percentile_ms(latencies, 99.9),
        "errors": int(failed),
        "status_counts": {"transactions": len(latencies)},
        "baseline_tps": round(tps, 1),
        "ratio_to_baseline": 1.0,
        "workers": None,
        "group_commit": None,
    }


def percentile_ms(sorted_us: list[int], pct: float) -> float | None:
    if not sorted_us:
        return None
    index = min(len(sorted_us) - 1, int(len(sorted_us) * pct / 100))
    return round(sorted_us[index] / 1000, 2)


def copy_baseline(database_url: str, rows: int, tag: str) -> dict[str, Any]:
    """COPY ``rows`` usage rows, as the ingest scenario sends them, into a plain table.

    The floor for ingest on this machine and cluster: the same rows written in one
    transaction with no validation, no dedup and no index. The rows are built first; only
    the COPY and its commit are timed.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = json.dumps({"user_id": "u1", "model": "gpt-4.1"})
    quantities = json.dumps({"input_tokens": 1200, "output_tokens": 350})
    data = [
        (f"u-{i % 1000 + 1}", f"{tag}-copy-{i}", "llm.completion", now, subject, quantities, "{}")
        for i in range(rows)
    ]
    with psycopg.connect(database_url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_usage_copy")
        conn.execute(
            "CREATE TABLE bench_usage_copy (wallet_id text, event_id text, type text,"
            " occurred_at timestamptz, subject jsonb, quantities jsonb, properties jsonb,"
            " received_at timestamptz DEFAULT now())"
        )
        conn.commit()
        started = time.monotonic()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY bench_usage_copy (wallet_id, event_id, type, occurred_at, subject,"
                " quantities, properties) FROM STDIN"
            ) as copy,
        ):
            for row in data:
                copy.write_row(row)
        conn.commit()
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_usage_copy")
    return {
        "scenario": "baseline_copy_usage_rows",
        "seconds": round(seconds, 3),
        "rows": rows,
        "throughput_per_s": round(rows / seconds, 1),
        "errors": 0,
    }
