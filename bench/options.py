"""Command-line options of ``python -m bench.run`` (``scripts/bench.sh`` passes them on)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.config import parse_config
from bench.scenarios import SCENARIOS

__all__ = ["FIXED_RATE_SCENARIOS", "parse_args"]

FIXED_RATE_SCENARIOS = ("rates", "seq")
"""Scenarios run with hey instead of wrk (``bench.rates``)."""

DESCRIPTION = "Benchmark the ledger's write path against pgbench and a hand-written SQL peer."


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--database-url", required=True, help="set by scripts/bench.sh")
    parser.add_argument("--pgbench", required=True, help="set by scripts/bench.sh")
    parser.add_argument("--pg-data", default="", help="cluster directory (CPU accounting)")
    parser.add_argument("--seconds", type=float, default=15.0, help="per scenario (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unreported warm-up seconds")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="slices each scenario's time is cut into, run in turns with the SQL peer "
        "(bench.slices; default 3)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wallets", type=int, default=10_000, help="zipf wallets")
    parser.add_argument("--zipf-s", type=float, default=1.1)
    parser.add_argument(
        "--scenarios",
        default="hot,zipf,rates,seq,batch,hold,ingest",
        help="comma list of hot, zipf (each also on the SQL peer), rates (fixed offered "
        "rates, --rates), seq (one sequential client), batch (POST /v1/batch), hold, ingest "
        "(usage events, 1,000 a request), floor (GET /healthz: the web stack alone); "
        "e.g. --scenarios ingest --wallets 0",
    )
    parser.add_argument("--rates", default="200,400,800", help="offered rates (req/s) of rates")
    parser.add_argument("--rate-seconds", type=float, default=None, help="default: --seconds")
    parser.add_argument("--batch-ops", type=int, default=100, help="debits per batch request")
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--no-peer", action="store_true", help="skip the hand-written SQL peer")
    parser.add_argument("--peer-pool", type=int, default=32, help="the peer's connections")
    parser.add_argument(
        "--peer-cork",
        action="store_true",
        help="run the peer on the ledger's corked protocol too (api.corking; labelled variant)",
    )
    parser.add_argument("--no-pg-stats", action="store_true", help="skip PostgreSQL counters")
    parser.add_argument(
        "--stats-settle",
        type=float,
        default=11.0,
        help="quiet seconds before each counter snapshot (PostgreSQL 15 publishes an idle "
        "backend's counters after 10 s)",
    )
    parser.add_argument("--no-probe", action="store_true", help="skip the round-trip probe")
    parser.add_argument(
        "--durability", default="durable", help="the cluster's (set by scripts/bench.sh)"
    )
    parser.add_argument("--usage-wallets", type=int, default=1000, help="ingest wallets")
    parser.add_argument("--shards", type=int, default=1, help="LEDGER_SHARDS of the store")
    parser.add_argument("--ingest-connections", type=int, default=8)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="server setup, repeatable: workers=N,gc=y|n,server=ledger|uvicorn,pool=N,"
        "overflow=N,auth=service|bootstrap,preping=y|n,fastio=y|n,project=y|n (default: "
        "workers=1,gc=y, with the projection worker)",
    )
    parser.add_argument(
        "--fastio-path",
        default="",
        help="a directory holding uvloop and httptools (pip install --target DIR uvloop "
        "httptools), put on PYTHONPATH of fastio=y servers only",
    )
    parser.add_argument("--workers", type=int, default=None, help="shorthand: workers=N")
    parser.add_argument("--no-baseline", action="store_true", help="skip pgbench")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument(
        "--profile-scenario", default="hot", help="the scenario py-spy watches: hot, zipf, batch"
    )
    parser.add_argument("--out", default="", help="also append the JSON lines to this file")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for name in args.scenarios:
        if name not in SCENARIOS and name not in FIXED_RATE_SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    args.rates = [int(r) for r in args.rates.split(",") if r]
    args.rate_seconds = args.rate_seconds or args.seconds
    args.peer = not args.no_peer
    args.pg_stats = not args.no_pg_stats
    specs = args.config or [f"workers={args.workers or 1}"]
    args.configs = [parse_config(i, spec) for i, spec in enumerate(specs)]
    rest = args.database_url.split("@", 1)[-1].split("/", 1)[0]
    args.pg_host, _, port = rest.partition(":")
    args.pg_port = int(port or 5432)
    return args
