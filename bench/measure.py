"""One measurement on one target (the ledger or the SQL peer): warm up, run, count, record.

The ledger and the peer run each scenario back to back in the same invocation (peer first),
so their ratio compares two runs minutes apart on the same machine, cluster and load
generator: on a shared machine the ratios are what counts, not the absolute figures.
Targets of issue 15 are checked on the ledger's records (``meets_target``).
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import pgstats
from bench.checks import Acked
from bench.common import log
from bench.config import Config
from bench.cpu import CpuWatch
from bench.rates import FixedRate, run_hey
from bench.scenarios import Scenario, run_wrk, summarize
from bench.server import Server

__all__ = ["COUNTED", "Target", "compare", "measure_fixed", "measure_wrk"]

COUNTED = frozenset({"hot_wallet_debit", "zipf_10k_debit", "batch_100_zipf_debits"})
"""Scenarios whose PostgreSQL counters (statements, commits, WAL syncs) are recorded."""


@dataclass
class Target:
    """A server under load: the ledger of one setup, or the SQL peer."""

    kind: str  # "ledger" or "sql_peer"
    config: Config
    server: Server
    key: str
    acked: Acked
    postmaster: int | None
    corked_peer: bool = False  # --peer-cork: the peer on api.corking's protocol

    @property
    def label(self) -> str:
        if self.kind == "ledger":
            return self.config.label
        return "sql-peer-corked" if self.corked_peer else "sql-peer"


def _watch(target: Target) -> CpuWatch:
    worker = target.server.worker
    return CpuWatch(target.server.process.pid, target.postmaster, worker.pid if worker else None)


def _counted(
    options: argparse.Namespace, name: str, kind: str, run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``run()``'s record, with PostgreSQL's counters over it for the counted scenarios."""
    if not options.pg_stats or name not in COUNTED:
        return run()
    before = pgstats.snapshot(options.database_url, options.stats_settle)
    record = run()
    after = pgstats.snapshot(options.database_url, options.stats_settle)
    decided = record.get("decisions", record.get("decided", 0))
    record["postgres"] = pgstats.per_batch(before, after, decided, peer=kind == "sql_peer")
    return record


def warm_up(target: Target, scenario: Scenario, options: argparse.Namespace) -> None:
    """An unreported run of ``scenario`` (``--warmup`` seconds): caches, JIT-free warm paths."""
    if options.warmup <= 0:
        return
    tag = f"{target.kind[0]}{target.config.index}{scenario.name[:3]}w-{secrets.token_hex(3)}"
    warm = run_wrk(
        target.server, scenario, tag, target.key, options,
        seconds=options.warmup, config=target.config,
    )  # fmt: skip
    target.acked.add(scenario, target.config, warm, batch_ops=options.batch_ops)


def measure_wrk(
    target: Target,
    scenario: Scenario,
    options: argparse.Namespace,
    baseline_tps: float,
    *,
    seconds: float,
    count: bool,
) -> dict[str, Any]:
    """One timed wrk run (a slice) of ``scenario`` against ``target``; with PostgreSQL's
    counters over it if ``count``."""
    config = target.config
    tag = f"{target.kind[0]}{config.index}{scenario.name[:3]}-{secrets.token_hex(3)}"

    def run() -> dict[str, Any]:
        log(f"[{target.label}] {scenario.name}: {seconds:g} s")
        watch = _watch(target)
        watch.start()
        wrk = run_wrk(
            target.server, scenario, tag, target.key, options, seconds=seconds, config=config
        )
        cpu = watch.stop()
        target.acked.add(scenario, config, wrk, batch_ops=options.batch_ops)
        return summarize(scenario, wrk, config, options, baseline_tps=baseline_tps, cpu=cpu)

    record = _counted(options, scenario.name, target.kind, run) if count else run()
    record["target"] = target.kind
    record["config"] = target.label
    return record


def measure_fixed(target: Target, load: FixedRate, seconds: float) -> dict[str, Any]:
    """Hot-wallet debits at a fixed offered rate, or from one sequential client (hey)."""
    wallet = f"hot-{target.config.index}"
    log(f"[{target.label}] {load.name}: {seconds:g} s")
    watch = _watch(target)
    watch.start()
    record = run_hey(target.server.url, target.key, f"/v1/wallets/{wallet}/debits", load, seconds)
    cpu = watch.stop()
    target.acked.add_answers(wallet, record.pop("ok"), record.pop("maybe_committed"))
    return {**record, "target": target.kind, "config": target.label, "cpu_pct_of_one_core": cpu}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def compare(record: dict[str, Any], peer: dict[str, Any] | None) -> dict[str, Any]:
    """The ledger's ``record`` with the peer's figures beside it and the issue's targets."""
    name = record["scenario"]
    if peer is not None:
        for field_ in ("throughput_per_s", "achieved_per_s", "p50_ms", "p99_ms", "errors"):
            if field_ in peer:
                record[f"peer_{field_}"] = peer[field_]
        if "throughput_per_s" in peer:
            record["ratio_to_peer"] = _ratio(record["throughput_per_s"], peer["throughput_per_s"])
        record["p50_ratio_to_peer"] = _ratio(record["p50_ms"], peer["p50_ms"])
        record["p99_ratio_to_peer"] = _ratio(record["p99_ms"], peer["p99_ms"])
    ratio = record.get("ratio_to_peer")
    clean = record.get("errors", 0) == 0
    if name == "hot_wallet_debit" and ratio is not None:
        record["meets_target"] = clean and ratio >= 2.0
    elif name == "zipf_10k_debit" and ratio is not None:
        record["meets_target"] = clean and ratio >= 1.0
    elif name == "fixed_rate_400" and peer is not None:
        p99, peer_p99 = record["p99_ms"], peer["p99_ms"]
        record["meets_target"] = clean and p99 is not None and p99 <= min(10.0, peer_p99 or 0.0)
    elif name == "sequential_1_client" and peer is not None:
        p50, peer_p50 = record["p50_ms"], peer["p50_ms"]
        record["meets_target"] = clean and p50 is not None and p50 <= 1.5 * (peer_p50 or 0.0)
    return record
