"""Markdown tables from a run's JSON lines: ``python -m bench.report results.jsonl``.

One table of the ledger against the SQL peer (throughput, latency, the issue's targets), one
of PostgreSQL's counters per committed batch, and the round-trip probe: what
``docs/performance.md`` quotes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "tables"]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def _comparison(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | ledger /s | peer /s | x peer | p50 ms (peer) | p99 ms (peer) | "
        "errors | server CPU % | srv ms/decision | meets target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    peers = {r["scenario"]: r for r in rows if r.get("target") == "sql_peer"}
    for r in rows:
        if r.get("target") != "ledger":
            continue
        peer = peers.get(r["scenario"], {})
        rate = r.get("throughput_per_s", r.get("achieved_per_s"))
        peer_rate = peer.get("throughput_per_s", peer.get("achieved_per_s"))
        cpu = r.get("cpu_pct_of_one_core") or {}
        lines.append(
            f"| {r['scenario']} | {_cell(rate)} | {_cell(peer_rate)} | "
            f"{_cell(r.get('ratio_to_peer'))} | {_cell(r.get('p50_ms'))} "
            f"({_cell(peer.get('p50_ms'))}) | {_cell(r.get('p99_ms'))} "
            f"({_cell(peer.get('p99_ms'))}) | {r.get('errors')} | {_cell(cpu.get('server'))} | "
            f"{_cell(r.get('server_cpu_ms_per_decision'))} | {_cell(r.get('meets_target'))} |"
        )
    return lines


def _counters(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | target | decisions/batch | statements/batch | projection statements"
        "/batch | write transactions/batch | WAL syncs/batch | ms per WAL sync |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pg = r.get("postgres")
        if not pg:
            continue
        per = pg["per_batch"]
        lines.append(
            f"| {r['scenario']} | {r.get('target')} | {_cell(pg['decisions_per_batch'])} | "
            f"{_cell(per['statements'])} | {_cell(per['projection_worker_statements'])} | "
            f"{_cell(per['write_transactions'])} | {_cell(per['wal_syncs'])} | "
            f"{_cell(pg['wal_sync_ms_per_sync'])} |"
        )
    return lines


def _probes(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| probe | debits | round trips | statements | commits |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['probe']} | {r['debits']} | {r['round_trips']} | {r['statements']} | "
        f"{r['commits']} |"
        for r in rows
        if "probe" in r
    ]
    return lines


def tables(rows: list[dict[str, Any]]) -> str:
    """The three tables, separated by blank lines."""
    parts = [_comparison(rows), _counters(rows), _probes(rows)]
    return "\n\n".join("\n".join(part) for part in parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m bench.report RESULTS.jsonl", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in Path(args[0]).read_text().splitlines() if line]
    print(tables(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
