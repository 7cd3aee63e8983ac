"""After the faults: compare what clients were told with what the ledger holds.

The ledger's side is read from each wallet's own event stream (``/v1/wallets/{id}/events``,
the source of truth), its balance, the trial balance of the read models, and
``ledger reconcile`` (read models against an independent fold of the log).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.live_server import REPO_ROOT, cli_command
from tests.support.reliability.load import ClientLog

__all__ = ["Findings", "LedgerRecords", "compare", "read_records", "reconcile", "wait_projected"]


@dataclass
class LedgerRecords:
    """What the wallets' event streams say happened."""

    debits: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(wallet, idempotency key) -> how many CreditsDebited carry it (must be 1)."""
    debit_amounts: dict[tuple[str, str], int] = field(default_factory=dict)
    holds: dict[tuple[str, str], int] = field(default_factory=dict)
    captures: dict[tuple[str, str], int] = field(default_factory=dict)
    releases: set[tuple[str, str]] = field(default_factory=set)
    grants: dict[tuple[str, str], int] = field(default_factory=dict)
    wallets: dict[str, dict[str, Any]] = field(default_factory=dict)


def _events(http: httpx.Client, wallet: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        params = {"after_version": rows[-1]["version"] if rows else 0, "limit": 1000}
        page = http.get(f"/v1/wallets/{wallet}/events", params=params)
        page.raise_for_status()
        events = page.json()["events"]
        if not events:
            return rows
        rows += events


def read_records(http: httpx.Client, wallets: list[str]) -> LedgerRecords:
    records = LedgerRecords()
    for wallet in wallets:
        answer = http.get(f"/v1/wallets/{wallet}")
        answer.raise_for_status()
        records.wallets[wallet] = answer.json()
        for event in _events(http, wallet):
            data, kind = event["data"], event["type"]
            if kind == "CreditsDebited":
                at = (wallet, str(data["idempotency_key"]))
                records.debits[at] += 1
                records.debit_amounts[at] = data["amount"]
            elif kind == "HoldPlaced":
                records.holds[(wallet, data["hold_id"])] = data["amount"]
            elif kind == "HoldCaptured":
                records.captures[(wallet, data["hold_id"])] = data["captured"]
            elif kind == "HoldReleased":
                records.releases.add((wallet, data["hold_id"]))
            elif kind == "CreditsGranted":
                records.grants[(wallet, data["grant_id"])] = data["amount"]
    return records


@dataclass
class Findings:
    """Every discrepancy found; a clean run has none. ``lost`` is what the doc reports."""

    missing_debits: list[tuple[str, str]]
    duplicate_debits: list[tuple[str, str]]
    unknown_debits: list[tuple[str, str]]
    wrong_amounts: list[tuple[str, str]]
    holds_differ: bool
    captures_differ: bool
    releases_differ: bool
    grants_differ: bool
    overdrawn: list[str]

    @property
    def lost(self) -> int:
        return len(self.missing_debits)

    def problems(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value}


def compare(log: ClientLog, records: LedgerRecords, seeded_grants: Mapping[str, str]) -> Findings:
    """Differences between the clients' acknowledgements and the ledger's events."""
    recorded = set(records.debits)
    acked = set(log.acked_debits)
    grants = {k: v for k, v in records.grants.items() if seeded_grants.get(k[0]) != k[1]}
    overdrawn = [
        wallet
        for wallet, view in records.wallets.items()
        if view["balance"]["debt"] > view["overdraft_limit"]
        or view["balance"]["available"] < -view["overdraft_limit"]
    ]
    return Findings(
        missing_debits=sorted(acked - recorded),
        duplicate_debits=sorted(k for k, n in records.debits.items() if n > 1),
        # A debit nobody was told about: no client asked for it, or asked and got a refusal.
        unknown_debits=sorted(recorded - acked),
        wrong_amounts=sorted(
            k for k in acked & recorded if records.debit_amounts[k] != log.acked_debits[k]
        ),
        holds_differ=records.holds != log.acked_holds,
        captures_differ=records.captures != log.acked_captures,
        releases_differ=records.releases != log.acked_releases,
        grants_differ=grants != log.acked_grants,
        overdrawn=overdrawn,
    )


def wait_projected(http: httpx.Client, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until every projection has applied the whole log; then the trial balance."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        projections = http.get("/v1/admin/projections").json()["projections"]
        if all(p["lag"] == 0 for p in projections):
            # Every shard's log is applied. (With shards, "head" sums the shards' heads: it
            # is no position to wait for.)
            answer = http.get("/v1/trial-balance")
            answer.raise_for_status()
            balance: dict[str, Any] = answer.json()
            return balance
        time.sleep(0.2)
    raise TimeoutError("the projection worker did not catch up")


def reconcile(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``ledger reconcile`` on the store of ``env`` (exit 0: the read models match the log)."""
    return subprocess.run(  # noqa: S603 - our own CLI
        cli_command("reconcile"),
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
