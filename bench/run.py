"""Benchmark orchestrator: seed, serve, load with wrk, compare with pgbench, verify, profile.

Run through ``scripts/bench.sh`` (``make bench``), which starts a throwaway PostgreSQL and
passes ``--database-url``, ``--pgbench`` and ``--pg-data``. This process only orchestrates:
the load comes from wrk (C + LuaJIT, ``bench/wrk/*.lua``) and the baseline from pgbench.

Prints one JSON line per scenario on stdout (progress goes to stderr), then one line per
correctness check, then the profile summary. Every wait and every run is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.baselines import copy_baseline, pgbench_baseline
from bench.checks import Acked, verify_all, verify_config
from bench.common import ROOT, emit, log
from bench.config import Config
from bench.cpu import CpuWatch, postmaster_pid
from bench.options import parse_args
from bench.profile import profile_hot
from bench.scenarios import INGEST, SCENARIOS, Scenario, run_wrk, summarize
from bench.seeding import Seeded, seed
from bench.server import Server, running_server

__all__ = ["Bench", "main"]


@dataclass
class Bench:
    """One invocation: the options, what was seeded and acknowledged, where results go."""

    options: argparse.Namespace
    workdir: Path
    seeded: Seeded
    postmaster: int | None
    sink: Any = None
    acked: Acked = field(default_factory=Acked)
    all_ok: bool = True

    def report(self, record: dict[str, Any]) -> None:
        emit(record)
        if self.sink is not None:
            self.sink.write(json.dumps(record) + "\n")
            self.sink.flush()
        if "check" in record:
            self.all_ok = self.all_ok and bool(record["ok"])

    def run_config(self, config: Config) -> None:
        options = self.options
        baseline_tps = 0.0
        if not options.no_baseline:
            log(f"[{config.label}] baseline: pgbench, 4 clients, {options.seconds:g} s")
            baseline = pgbench_baseline(options, self.workdir)
            baseline_tps = baseline["throughput_per_s"]
            self.report({**baseline, "config": config.label})
        admin_key = secrets.token_urlsafe(36)
        with running_server(
            options.database_url, config, self.workdir, admin_key, options.fastio_path
        ) as server:
            key = self.seeded.service_key if config.auth == "service" else admin_key
            for name in options.scenarios:
                self.run_scenario(server, SCENARIOS[name], key, config, baseline_tps)
            if not options.no_profile and "hot" in options.scenarios:
                log(f"[{config.label}] profiling hot_wallet_debit with py-spy")
                profile = profile_hot(
                    server, key, options, config=config, workdir=self.workdir, acked=self.acked
                )
                if profile is not None:
                    self.report(profile)
        log(f"[{config.label}] verifying what was committed")
        for check in verify_config(options.database_url, config, self.acked):
            self.report(check)

    def run_scenario(
        self, server: Server, scenario: Scenario, key: str, config: Config, baseline_tps: float
    ) -> None:
        options = self.options
        tag = f"c{config.index}{scenario.name[:3]}-{secrets.token_hex(3)}"
        if options.warmup > 0:
            warm = run_wrk(
                server, scenario, f"{tag}w", key, options, seconds=options.warmup, config=config
            )
            self.acked.add(scenario, config, warm)
        log(f"[{config.label}] {scenario.name}: {options.seconds:g} s")
        watch = CpuWatch(server.process.pid, self.postmaster)
        watch.start()
        wrk = run_wrk(server, scenario, tag, key, options, seconds=options.seconds, config=config)
        cpu = watch.stop()
        self.acked.add(scenario, config, wrk)
        record = summarize(scenario, wrk, config, options, baseline_tps=baseline_tps, cpu=cpu)
        if scenario.name == INGEST:
            rows = max(record["events_accepted"], 1000)
            log(f"[{config.label}] baseline: COPY of {rows} usage rows into a plain table")
            copy = copy_baseline(options.database_url, rows, tag)
            self.report({**copy, "config": config.label})
            record["baseline_tps"] = copy["throughput_per_s"]
            record["ratio_to_baseline"] = round(
                record["events_per_s"] / max(copy["throughput_per_s"], 1e-9), 3
            )
        self.report(record)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # scripts/bench.sh stops us with SIGTERM: unwind, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(ROOT)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        sink = stack.enter_context(Path(options.out).open("a")) if options.out else None
        log(f"seeding {len(options.configs) * 2} hot wallets and {options.wallets} zipf wallets")
        usage_wallets = options.usage_wallets if "ingest" in options.scenarios else 0
        seeded = seed(
            options.database_url, options.configs, options.wallets, usage_wallets, options.shards
        )
        log(f"seeded in {seeded.seconds:.1f} s")
        bench = Bench(options, workdir, seeded, postmaster_pid(options.pg_data), sink)
        bench.report(
            {
                "run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "nproc": os.cpu_count(),
                "loadavg": os.getloadavg(),
                "seconds": options.seconds,
                "configs": [c.label for c in options.configs],
            }
        )
        for config in options.configs:
            bench.run_config(config)
        log("verifying the zipf wallets and the trial balance (scans the whole log)")
        for check in verify_all(options.database_url, options, bench.acked):
            bench.report(check)
        return 0 if bench.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
