"""Fleet scenario: debits on a hot wallet and on zipfian wallets through the balancer.

Runs against a started fleet (``LEDGER_URL``, ``LEDGER_KEY``), so compare one process with
three behind round robin by starting the fleet both ways:

    FLEET_APIS=1 scripts/fleet.sh -- .venv/bin/python bench/fleet.py --label one
    FLEET_APIS=3 scripts/fleet.sh -- .venv/bin/python bench/fleet.py --label three
    FLEET_APIS=3 FLEET_OWNERS=0 scripts/fleet.sh -- .venv/bin/python bench/fleet.py \
        --label three-without-owners

Prints one JSON line per scenario (wrk's figures from ``bench/wrk/report.lua``, plus
``debits_per_second``, the 503 count and ``cpu_ms_per_debit``: CPU time the fleet's
processes spent per acknowledged debit, by kind (and ``context_switches_per_debit`` of
all their threads) — each API process, HAProxy, PostgreSQL, the
projection worker — read from ``/proc`` before and after; on a machine shared with other
work, throughput moves with the neighbours but CPU per debit much less). Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

WRK = Path(__file__).resolve().parent / "wrk"
ZIPF_WALLETS = 100
ZIPF_S = "1.1"


def _seed(http: httpx.Client, wallets: list[str]) -> None:
    for wallet in wallets:
        opened = http.post("/v1/wallets", json={"wallet_id": wallet})
        assert opened.status_code in {201, 409}, opened.text
        body = {"grant_id": "bench", "amount": 10**12, "category": "paid"}
        granted = http.post(f"/v1/wallets/{wallet}/grants", json=body)
        assert granted.status_code in {200, 201}, granted.text


def _wrk(url: str, script: str, args: list[str], seconds: int, connections: int) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(WRK / script), url, "--", *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return figures


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _below(root: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += tree.get(pid, [])
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _fleet_processes() -> dict[int, str]:
    """pid -> kind for the fleet around this run: what ``scripts/fleet.sh`` (an ancestor)
    started, and the PostgreSQL servers (with their backends) on the fleet's ports."""
    tree = _children()
    parents = {child: parent for parent, children in tree.items() for child in children}
    root = os.getppid()  # scripts/fleet.sh, or a script it runs
    while root > 1 and not any(" serve " in _cmdline(p) for p in _below(root, tree)):
        root = parents.get(root, 1)
    kinds: dict[int, str] = {}
    for pid in _below(root, tree):
        line = _cmdline(pid)
        if " serve " in line:
            kinds[pid] = f"api-{pid}"
        elif " project" in line:
            kinds[pid] = "projection_worker"
        elif "haproxy" in line:
            kinds[pid] = "haproxy"
    urls = [
        os.environ.get("LEDGER_DATABASE_URL", ""),
        *os.environ.get("LEDGER_SHARD_URLS", "").split(","),
    ]
    ports = {urlsplit(url).port for url in urls if url}
    for pid in {p for ps in tree.values() for p in ps}:
        line = _cmdline(pid)
        if "postgres" in line and any(f"-p {port} " in line for port in ports):
            for below in _below(pid, tree):
                kinds[below] = "postgres"
    return kinds


def _cpu_seconds(pids: dict[int, str]) -> dict[str, float]:
    """CPU seconds by kind, and ``switches``: context switches of all their threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = {"switches": 0.0}
    for pid, kind in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        spent[kind] = spent.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        for task in tasks:
            with contextlib.suppress(OSError):
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:  # voluntary and not
                        spent["switches"] += int(line.split()[1])
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="fleet")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenarios", default="hot,zipf", help="comma-separated: hot, zipf")
    args = parser.parse_args()
    url, key = os.environ["LEDGER_URL"], os.environ["LEDGER_KEY"]
    run = uuid.uuid4().hex[:8]
    prefix = f"zipf-{run}-"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        _seed(http, [f"hot-{run}", *(f"{prefix}{k}" for k in range(1, ZIPF_WALLETS + 1))])
    time.sleep(4)  # let the processes settle their shard leases after the seeding
    scenarios = {
        "hot": ("debit_hot.lua", [f"{run}-h", key, f"hot-{run}"]),
        "zipf": ("debit_zipf.lua", [f"{run}-z", key, prefix, str(ZIPF_WALLETS), ZIPF_S]),
    }
    for name in args.scenarios.split(","):
        script, wrk_args = scenarios[name]
        processes = _fleet_processes()
        before = _cpu_seconds(processes)
        figures = _wrk(url, script, wrk_args, args.seconds, args.connections)
        after = _cpu_seconds(processes)
        statuses = figures.get("status_counts", {})
        debits = max(1, statuses.get("201", 0))
        switches = (after.pop("switches") - before.pop("switches")) / debits
        cpu = {kind: round(1000 * (after[kind] - before.get(kind, 0.0)) / debits, 3)
               for kind in after}  # fmt: skip
        cpu["total"] = round(sum(cpu.values()), 3)
        line = {
            "scenario": f"fleet_{name}",
            "label": args.label,
            "apis": int(os.environ.get("FLEET_APIS", "3")),
            "debits_per_second": round(statuses.get("201", 0) / args.seconds, 1),
            "status_503": statuses.get("503", 0),
            "cpu_ms_per_debit": cpu,
            "context_switches_per_debit": round(switches, 1),
            **figures,
        }
        print(json.dumps(line, sort_keys=True))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
