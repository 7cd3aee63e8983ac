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

from bench import peer, pgstats
from bench.baselines import copy_baseline, pgbench_baseline
from bench.checks import Acked, verify_all, verify_config, verify_peer
from bench.common import GRANT, ROOT, emit, log
from bench.config import Config
from bench.cpu import postmaster_pid
from bench.measure import Target, compare, measure_fixed, measure_wrk, warm_up
from bench.options import FIXED_RATE_SCENARIOS, parse_args
from bench.profile import profile_hot
from bench.rates import FixedRate
from bench.roundtrips import probe_ledger, probe_peer
from bench.scenarios import INGEST, SCENARIOS, wrk_seconds
from bench.seeding import Seeded, seed
from bench.server import running_peer, running_server
from bench.slices import merged

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
    peer_acked: Acked = field(default_factory=Acked)
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
            self.report({**baseline, "config": config.label, "durability": options.durability})
        admin_key = secrets.token_urlsafe(36)
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(
                running_server(
                    options.database_url, config, self.workdir, admin_key, options.fastio_path
                )
            )
            key = self.seeded.service_key if config.auth == "service" else admin_key
            ledger = Target("ledger", config, server, key, self.acked, self.postmaster)
            peer = None
            if options.peer:
                peer_key = secrets.token_urlsafe(36)
                peer_server = stack.enter_context(
                    running_peer(
                        options.database_url,
                        self.workdir,
                        peer_key,
                        options.peer_pool,
                        cork=options.peer_cork,
                    )
                )
                peer = Target(
                    "sql_peer",
                    config,
                    peer_server,
                    peer_key,
                    self.peer_acked,
                    self.postmaster,
                    corked_peer=options.peer_cork,
                )
            for name in options.scenarios:
                self.run_scenario(name, ledger, peer, baseline_tps)
            if not options.no_profile and options.profile_scenario in options.scenarios:
                log(f"[{config.label}] profiling {options.profile_scenario} with py-spy")
                profile = profile_hot(
                    server, key, options, config=config, workdir=self.workdir, acked=self.acked
                )
                if profile is not None:
                    self.report(profile)
        log(f"[{config.label}] verifying what was committed")
        for check in verify_config(options.database_url, config, self.acked):
            self.report(check)

    def run_scenario(
        self, name: str, ledger: Target, peer: Target | None, baseline_tps: float
    ) -> None:
        """``name`` on the peer (if it runs it) and the ledger, in alternating slices."""
        options = self.options
        rounds = max(1, options.rounds)
        if name in FIXED_RATE_SCENARIOS:
            loads = [FixedRate(rate) for rate in options.rates] if name == "rates" else []
            for load in loads or [FixedRate(None)]:
                seconds = options.rate_seconds / rounds
                ours, theirs = [], []
                for _ in range(rounds):
                    if peer is not None:
                        theirs.append(measure_fixed(peer, load, seconds))
                    ours.append(measure_fixed(ledger, load, seconds))
                self._compared(ours, theirs)
            return
        scenario = SCENARIOS[name]
        paired = peer if peer is not None and scenario.peer else None
        for target in (paired, ledger):
            if target is not None:
                warm_up(target, scenario, options)
        seconds = wrk_seconds(options.seconds, rounds)
        ours, theirs = [], []
        for slice_ in range(rounds):
            count = slice_ == 0
            if paired is not None:
                theirs.append(
                    measure_wrk(
                        paired, scenario, options, baseline_tps, seconds=seconds, count=count
                    )
                )
            ours.append(
                measure_wrk(ledger, scenario, options, baseline_tps, seconds=seconds, count=count)
            )
        extra = self._copy_baseline(ledger, merged(ours)) if scenario.name == INGEST else None
        self._compared(ours, theirs, extra)

    def _compared(
        self,
        ours: list[dict[str, Any]],
        theirs: list[dict[str, Any]],
        record: dict[str, Any] | None = None,
    ) -> None:
        peer_record = merged(theirs) if theirs else None
        if peer_record is not None:
            self.report(self._labelled(peer_record))
        self.report(self._labelled(compare(record or merged(ours), peer_record)))

    def _copy_baseline(self, ledger: Target, record: dict[str, Any]) -> dict[str, Any]:
        """Ingest's baseline: the same rows ``COPY``ed into a plain table."""
        rows = max(record["events_accepted"], 1000)
        log(f"[{ledger.label}] baseline: COPY of {rows} usage rows into a plain table")
        copy = copy_baseline(self.options.database_url, rows, secrets.token_hex(3))
        self.report({**copy, "config": ledger.label})
        record["baseline_tps"] = copy["throughput_per_s"]
        record["ratio_to_baseline"] = round(
            record["events_per_s"] / max(copy["throughput_per_s"], 1e-9), 3
        )
        return record

    def _labelled(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "durability": self.options.durability}

    def probe(self) -> None:
        """Round trips, statements and commits of one batch (``bench.roundtrips``)."""
        options = self.options
        zipf = [f"z-{k}" for k in range(1, min(options.wallets, options.batch_ops) + 1)]
        batches = {"one_debit": ["hot-0"], "32_debits_one_wallet": ["hot-0"] * 32}
        if zipf:
            batches[f"{len(zipf)}_debits_{len(zipf)}_wallets"] = zipf
        for result in probe_ledger(options.database_url, self.workdir, batches):
            self.report(result)
        # The probe's debits (three warm-up rounds and the traced one of each batch) are not
        # in the acknowledged counts: they are allowed for.
        self.acked.unknown["hot-0"] += 4 * (1 + 32)
        self.acked.unknown["zipf"] += 4 * len(zipf)
        if options.peer:
            self.report(probe_peer(options.database_url, self.workdir, "hot-0"))
            self.peer_acked.unknown["hot-0"] += 2


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
        if options.peer:
            log("the SQL peer's tables and wallets")
            wallets = [f"hot-{c.index}" for c in options.configs]
            wallets += [f"z-{k}" for k in range(1, options.wallets + 1)]
            peer.prepare(options.database_url, wallets, GRANT)
        pgstats.create_projector_role(options.database_url)
        if options.pg_stats and not pgstats.enable(options.database_url):
            log("pg_stat_statements is not loaded: no PostgreSQL counters")
            options.pg_stats = False
        log(f"seeded in {seeded.seconds:.1f} s")
        bench = Bench(options, workdir, seeded, postmaster_pid(options.pg_data), sink)
        bench.report(
            {
                "run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "nproc": os.cpu_count(),
                "loadavg": os.getloadavg(),
                "seconds": options.seconds,
                "durability": options.durability,
                "configs": [c.label for c in options.configs],
            }
        )
        for config in options.configs:
            bench.run_config(config)
        if not options.no_probe:
            log("round trips, statements and commits of one batch (libpq trace)")
            bench.probe()
        log("verifying the zipf wallets and the trial balance (scans the whole log)")
        for check in verify_all(options.database_url, options, bench.acked):
            bench.report(check)
        if options.peer:
            for check in verify_peer(options.database_url, options, bench.peer_acked):
                bench.report(check)
        return 0 if bench.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
