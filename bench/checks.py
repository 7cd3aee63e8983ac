"""Correctness after the load: every acknowledged decision is in the ledger exactly once."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench import peer
from bench.common import GRANT
from bench.config import Config
from bench.scenarios import BATCH, INGEST, Scenario, ok_count
from ledger.app.audit import trial_balance
from ledger.app.service import CreditLedger

__all__ = ["Acked", "verify_all", "verify_config", "verify_peer"]


@dataclass
class Acked:
    """What the server acknowledged (2xx), per wallet, across warm-up, runs and profiling."""

    debits: Counter[str] = field(default_factory=Counter)
    holds: Counter[str] = field(default_factory=Counter)
    captures: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)  # answers that may have committed
    usage_events: int = 0  # "accepted" summed over ingest 200s
    usage_unknown: int = 0  # events of ingest requests that may have committed unanswered

    def add(
        self, scenario: Scenario, config: Config, wrk: dict[str, Any], *, batch_ops: int = 100
    ) -> None:
        counts: dict[str, int] = wrk["status_counts"]
        if scenario.name == BATCH:
            self._add_batches(counts, wrk, batch_ops)
            return
        # May have committed without the client seeing a 2xx: 5xx answers, and requests still
        # in flight when wrk stopped (sent, never answered: cut off, timed out or read error).
        maybe = sum(n for s, n in counts.items() if s.rsplit(":", 1)[-1][0] == "5")
        maybe += max(0, wrk["sent"] - wrk["requests"])
        if scenario.name == "hold_capture_pairs":
            wallet = f"hold-{config.index}"
            self.holds[wallet] += counts.get("hold:201", 0)
            self.captures[wallet] += counts.get("capture:200", 0)
        elif scenario.name == "http_floor_healthz":
            return
        elif scenario.name == INGEST:
            self.usage_events += counts.get("events_accepted", 0)
            self.usage_unknown += 1000 * maybe
            return
        else:
            wallet = f"hot-{config.index}" if scenario.name == "hot_wallet_debit" else "zipf"
            self.debits[wallet] += ok_count(counts)
        self.unknown[wallet] += maybe

    def _add_batches(self, counts: dict[str, int], wrk: dict[str, Any], ops: int) -> None:
        """Batch answers: each 2xx result is a debit on a zipf wallet; a 5xx result, and
        every operation of a request answered otherwise or not at all, may have committed."""
        self.debits["zipf"] += sum(
            n for s, n in counts.items() if s.startswith("item:") and s[5:].startswith("2")
        )
        unanswered = wrk["sent"] - counts.get("http:200", 0)
        items_5xx = sum(n for s, n in counts.items() if s.startswith("item:5"))
        self.unknown["zipf"] += ops * unanswered + items_5xx

    def add_answers(self, wallet: str, ok: int, maybe: int) -> None:
        """Debits on ``wallet`` counted by another load generator (hey)."""
        self.debits[wallet] += ok
        self.unknown[wallet] += maybe


def _consumed(wallet: Any) -> tuple[int, int]:
    consumed = sum(g.amount - g.remaining - g.held for g in wallet.grants.values())
    held = sum(g.held for g in wallet.grants.values())
    return consumed, held


def _check(
    name: str, expected: int, actual: int, unknown: int, *, either_way: bool = False, **extra: Any
) -> dict[str, Any]:
    """Exact when every request was answered; else within what was left unanswered."""
    low = expected - unknown if either_way else expected
    ok = low <= actual <= expected + unknown
    return {
        "check": name,
        "ok": ok,
        "expected": expected,
        "actual": actual,
        "unanswered_or_5xx": unknown,
        **extra,
    }


def verify_config(database_url: str, config: Config, acked: Acked) -> list[dict[str, Any]]:
    """Each acknowledged debit and capture is in the ledger exactly once (server stopped)."""
    ledger = CreditLedger.from_url(database_url, group_commit=False)
    checks = []
    try:
        hot = f"hot-{config.index}"
        wallet = ledger.load_wallet(hot)
        consumed, _ = _consumed(wallet)
        checks.append(
            _check(
                f"{hot} consumed == 2xx debits",
                acked.debits[hot],
                consumed,
                acked.unknown[hot],
                config=config.label,
                wallet_events=wallet.version,
            )
        )
        hold = f"hold-{config.index}"
        consumed, held = _consumed(ledger.load_wallet(hold))
        checks.append(
            _check(
                f"{hold} consumed == 200 captures",
                acked.captures[hold],
                consumed,
                acked.unknown[hold],
                config=config.label,
            )
        )
        checks.append(
            _check(
                f"{hold} held == 201 holds - 200 captures",
                acked.holds[hold] - acked.captures[hold],
                held,
                acked.unknown[hold],
                either_way=True,
                config=config.label,
            )
        )
    finally:
        ledger.close()
    return checks


def verify_all(
    database_url: str, options: argparse.Namespace, acked: Acked
) -> list[dict[str, Any]]:
    """Zipf wallets' consumed total, and the trial balance over the whole log."""
    ledger = CreditLedger.from_url(database_url, group_commit=False)
    checks = []
    try:
        if options.wallets and {"zipf", "batch"} & set(options.scenarios):
            consumed = sum(
                _consumed(ledger.load_wallet(f"z-{k}"))[0] for k in range(1, options.wallets + 1)
            )
            checks.append(
                _check(
                    "zipf wallets consumed == 2xx debits",
                    acked.debits["zipf"],
                    consumed,
                    acked.unknown["zipf"],
                )
            )
        started = time.monotonic()
        at = datetime.now(UTC)
        # Every shard's log (each shard's postings balance on their own).
        balances = [trial_balance(shard, as_of=at) for shard in ledger.shards]
        seconds = round(time.monotonic() - started, 1)
        balance = {
            "balanced": all(b["balanced"] for b in balances),
            "debit_total": sum(b["debit_total"] for b in balances),
            "credit_total": sum(b["credit_total"] for b in balances),
        }
        total = sum(
            a["credit_total"]
            for b in balances
            for a in b["accounts"]
            if a["account"] == "platform:credits:consumed"
        )
        expected = sum(acked.debits.values()) + sum(acked.captures.values())
        checks.append(
            _check(
                "trial balance: consumed == all 2xx debits + captures",
                expected,
                total,
                sum(acked.unknown.values()),
                balanced=balance["balanced"],
                debit_total=balance["debit_total"],
                credit_total=balance["credit_total"],
                scan_seconds=seconds,
            )
        )
        checks[-1]["ok"] = checks[-1]["ok"] and balance["balanced"]
    finally:
        ledger.close()
    if "ingest" in options.scenarios:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM ledger_usage_ids").fetchone()
        checks.append(
            _check(
                "usage ids recorded == accepted events",
                acked.usage_events,
                int(row[0]) if row else 0,
                acked.usage_unknown,
            )
        )
    return checks


def verify_peer(
    database_url: str, options: argparse.Namespace, acked: Acked
) -> list[dict[str, Any]]:
    """The peer's wallets: each acknowledged debit of 1 is taken from its balance once."""
    hot = [f"hot-{c.index}" for c in options.configs]
    zipf = [f"z-{k}" for k in range(1, options.wallets + 1)] if "zipf" in options.scenarios else []
    balances = peer.balances(database_url, [*hot, *zipf])
    checks = [
        _check(
            f"peer {wallet} consumed == 2xx debits",
            acked.debits[wallet],
            GRANT - balances[wallet],
            acked.unknown[wallet],
        )
        for wallet in hot
    ]
    if zipf:
        checks.append(
            _check(
                "peer zipf wallets consumed == 2xx debits",
                acked.debits["zipf"],
                sum(GRANT - balances[w] for w in zipf),
                acked.unknown["zipf"],
            )
        )
    return checks
