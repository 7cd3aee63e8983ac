"""Knobs and reporting shared by the reliability tests.

Sizes are bounded for the test command; ``scripts/reliability.sh`` raises them through the
environment for a longer run:

* ``LEDGER_RELIABILITY_SECONDS``: seconds of load of each fault and soak test (default 25);
* ``LEDGER_RELIABILITY_CLIENTS``: client threads (default 6);
* ``LEDGER_RELIABILITY_REPORT``: a file to append one JSON line of figures per test to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import TEST_ADMIN_KEY

__all__ = ["CLIENTS", "SECONDS", "admin_client", "report", "seed_wallets", "service_key"]

SECONDS = float(os.environ.get("LEDGER_RELIABILITY_SECONDS", "25"))
CLIENTS = int(os.environ.get("LEDGER_RELIABILITY_CLIENTS", "6"))


def report(test: str, figures: dict[str, Any]) -> None:
    """Print the figures (shown with ``-s``) and append them to the report file, if any."""
    line = json.dumps({"test": test, **figures}, sort_keys=True, default=str)
    print(line)  # noqa: T201 - the run's figures, for the person running it
    target = os.environ.get("LEDGER_RELIABILITY_REPORT")
    if target:
        with Path(target).open("a") as out:
            out.write(line + "\n")


def admin_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TEST_ADMIN_KEY}"}, timeout=30.0
    )


def seed_wallets(http: httpx.Client, overdrafts: dict[str, int], credits: int) -> dict[str, str]:
    """Open the wallets with ``credits`` each; returns wallet -> the seeding grant's id.

    Returns:
        The id of each wallet's first grant, which no client made.
    """
    for wallet, overdraft in overdrafts.items():
        opened = http.post("/v1/wallets", json={"wallet_id": wallet, "overdraft_limit": overdraft})
        assert opened.status_code == 201, opened.text
        body = {"grant_id": "seed", "amount": credits, "category": "paid"}
        granted = http.post(f"/v1/wallets/{wallet}/grants", json=body)
        assert granted.status_code == 201, granted.text
    return dict.fromkeys(overdrafts, "seed")


def service_key(http: httpx.Client) -> str:
    issued = http.post("/v1/api-keys", json={"scopes": ["service"], "name": "reliability load"})
    assert issued.status_code == 201, issued.text
    return str(issued.json()["key"])
