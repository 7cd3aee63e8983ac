"""Fleet scenario: debits on a hot wallet and on zipfian wallets through the balancer.

Runs against a started fleet (``LEDGER_URL``, ``LEDGER_KEY``), so compare one process with
three behind round robin by starting the fleet both ways:

    FLEET_APIS=1 scripts/fleet.sh -- .venv/bin/python bench/fleet.py --label one
    FLEET_APIS=3 scripts/fleet.sh -- .venv/bin/python bench/fleet.py --label three
    FLEET_APIS=3 FLEET_OWNERS=0 scripts/fleet.sh -- .venv/bin/python bench/fleet.py \
        --label three-without-owners

Prints one JSON line per scenario (wrk's figures from ``bench/wrk/report.lua``, plus
``debits_per_second`` and the 503 count). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

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


def _wrk(url: str, script: str, args: list[str], seconds: int, connections: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(WRK / script), url, "--", *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    figures: dict = json.loads(line.removeprefix("BENCH_JSON "))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="fleet")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
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
    for name, (script, wrk_args) in scenarios.items():
        figures = _wrk(url, script, wrk_args, args.seconds, args.connections)
        statuses = figures.get("status_counts", {})
        line = {
            "scenario": f"fleet_{name}",
            "label": args.label,
            "apis": int(os.environ.get("FLEET_APIS", "3")),
            "debits_per_second": round(statuses.get("201", 0) / args.seconds, 1),
            "status_503": statuses.get("503", 0),
            **figures,
        }
        print(json.dumps(line, sort_keys=True))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
