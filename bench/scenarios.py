"""Closed-loop load with wrk (``bench/wrk/*.lua``), and one JSON record per scenario."""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.common import TARGET_EVENTS_PER_S, WRK
from bench.config import Config
from bench.server import Server

__all__ = [
    "BATCH",
    "INGEST",
    "SCENARIOS",
    "TARGET_BATCH_DECISIONS_PER_S",
    "TARGET_BATCH_P99_MS",
    "Scenario",
    "ok_count",
    "run_wrk",
    "summarize",
    "wrk_seconds",
]

INGEST = "usage_ingest_batch_1000"
BATCH = "batch_100_zipf_debits"
TARGET_BATCH_DECISIONS_PER_S = 5000.0  # issue 15: batches of 100 debits, 10k zipf wallets
TARGET_BATCH_P99_MS = 50.0


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    args: tuple[str, ...]  # after run tag and key; {i} is the config index
    peer: bool = False  # the SQL peer runs it too (it has the debit route only)


SCENARIOS = {
    "hot": Scenario("hot_wallet_debit", "debit_hot.lua", ("hot-{i}",), peer=True),
    "zipf": Scenario("zipf_10k_debit", "debit_zipf.lua", ("z-", "{n}", "{s}"), peer=True),
    # POST /v1/batch, --batch-ops debits a request over the zipf wallets (--batch-connections).
    "batch": Scenario(BATCH, "batch_zipf.lua", ("z-", "{n}", "{s}", "{b}")),
    "hold": Scenario("hold_capture_pairs", "hold_capture.lua", ("hold-{i}",)),
    "floor": Scenario("http_floor_healthz", "healthz.lua", ()),
    # 1,000 events a request: a few connections keep the server busy (--ingest-connections).
    "ingest": Scenario(INGEST, "usage_events.lua", ("u-", "{u}")),
}


def wrk_seconds(total: float, rounds: int) -> float:
    """Each slice's duration for wrk, which takes whole seconds only (``-d 3.3s`` is refused):
    ``total`` split over ``rounds`` (at least one), rounded, at least one second."""
    return float(max(1, round(total / rounds)))


def run_wrk(
    server: Server,
    scenario: Scenario,
    tag: str,
    key: str,
    options: argparse.Namespace,
    *,
    seconds: float,
    config: Config,
) -> dict[str, Any]:
    extra = [
        a.format(
            i=config.index,
            n=options.wallets,
            s=options.zipf_s,
            u=options.usage_wallets,
            b=options.batch_ops,
        )
        for a in scenario.args
    ]
    connections = _connections(scenario, options)
    cmd = ["wrk", "-t", str(options.wrk_threads), "-c", str(connections)]
    cmd += ["-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(WRK / scenario.script)]
    cmd += [server.url, "--", tag, key, *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise SystemExit(f"bench: wrk gave no result ({done.returncode}):\n{done.stdout}{done.stderr}")


def _connections(scenario: Scenario, options: argparse.Namespace) -> int:
    if scenario.name == INGEST:
        return int(options.ingest_connections)
    if scenario.name == BATCH:
        return int(options.batch_connections)
    return int(options.connections)


def _batch_items(counts: dict[str, int]) -> tuple[int, int, int]:
    """(decided, denied, failed) operations of the batch answers (``item:<status>`` counts)."""
    items = {s.removeprefix("item:"): n for s, n in counts.items() if s.startswith("item:")}
    ok = sum(n for s, n in items.items() if s.startswith("2"))
    denied = items.get("402", 0)
    return ok + denied, denied, sum(items.values()) - ok - denied


def ok_count(status_counts: dict[str, int], prefix: str = "") -> int:
    return sum(
        n
        for s, n in status_counts.items()
        if s.startswith(prefix) and s.rsplit(":", 1)[-1].startswith("2")
    )


def summarize(
    scenario: Scenario,
    wrk: dict[str, Any],
    config: Config,
    options: argparse.Namespace,
    *,
    baseline_tps: float,
    cpu: dict[str, float],
) -> dict[str, Any]:
    seconds = wrk["duration_us"] / 1e6
    counts: dict[str, int] = dict(wrk["status_counts"])
    events_accepted = counts.pop("events_accepted", 0)  # ingest: summed "accepted" of 200s
    denials = sum(n for s, n in counts.items() if s.rsplit(":", 1)[-1] == "402")
    decided = ok_count(counts) + denials
    socket_errors = sum(wrk["socket_errors"].values())
    errors = sum(counts.values()) - decided + socket_errors
    if scenario.name == BATCH:  # decisions are the operations; errors, requests or items
        decided, denials, failed = _batch_items(counts)
        errors = wrk["requests"] - counts.get("http:200", 0) + failed + socket_errors
    throughput = decided / seconds
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "seconds": round(seconds, 2),
        "connections": _connections(scenario, options),
        "decisions": decided,
        "throughput_per_s": round(throughput, 1),
        "p50_ms": round(wrk["p50_us"] / 1000, 2),
        "p99_ms": round(wrk["p99_us"] / 1000, 2),
        "p999_ms": round(wrk["p999_us"] / 1000, 2),
        "errors": errors,
        "status_counts": dict(sorted(counts.items())),
        "baseline_tps": round(baseline_tps, 1),
        "ratio_to_baseline": round(throughput / baseline_tps, 3) if baseline_tps else None,
        "workers": config.workers,
        "shards": options.shards,
        "group_commit": config.group_commit,
        "config": config.label,
        "denials_402": denials,
        "socket_errors": wrk["socket_errors"],
        "max_ms": round(wrk["max_us"] / 1000, 1),
        "cpu_pct_of_one_core": cpu,
        # Server CPU (all its processes) per answered request: the cost the web stack, the
        # ledger and the driver add up to. 1 / this is one core's ceiling.
        "server_cpu_ms_per_request": round(
            10.0 * cpu["server"] / max(wrk["requests"] / seconds, 1e-9), 3
        ),
        "server_cpu_ms_per_decision": round(10.0 * cpu["server"] / max(throughput, 1e-9), 3),
    }
    if scenario.name == BATCH:
        record["operations_per_request"] = options.batch_ops
        record["requests_per_s"] = round(wrk["requests"] / seconds, 1)
        record["wallets"] = options.wallets
        record["meets_target"] = (
            throughput >= TARGET_BATCH_DECISIONS_PER_S
            and record["p99_ms"] <= TARGET_BATCH_P99_MS
            and errors == 0
        )
    if scenario.name == INGEST:
        record["events_accepted"] = events_accepted
        record["events_per_s"] = round(events_accepted / seconds, 1)
        record["wallets"] = options.usage_wallets
        record["meets_target"] = record["events_per_s"] >= TARGET_EVENTS_PER_S and errors == 0
    if scenario.name == "zipf_10k_debit":
        record["wallets"] = options.wallets
    elif scenario.name == "hold_capture_pairs":
        record["pairs_per_s"] = round(ok_count(counts, "capture:") / seconds, 1)
    return record
