"""Debits on wallets that have lived under a daily allowance, against a new wallet, in-process.

    python -m bench.aged_wallets [--days 0,365,1000] [--debits 3000] [--rounds 5]
    python -m bench.aged_wallets --url sqlite:///PATH   # the embedded store, on disk

A daily allowance adds a grant a day that closes a day later; the wallet keeps them all (its
views list them). This measures what that history costs each debit: for each ``--days``, a
wallet given a daily allowance and a never-expiring paid grant, its clock moved on that many
days and swept, then ``--debits`` debits of 1 from one caller through the group-commit
writer (the production path), best of ``--rounds``. ``--days 0`` is the baseline, run in the
same invocation: each line's ``ratio_to_new_wallet`` is its time per debit over the
baseline's. The clock is the bench's own (business time moves without waiting), so the
store defaults to memory: the figure is the decision and recording CPU, no disk.

Prints one JSON line per wallet age. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime, timedelta

from bench.common import emit
from ledger.app.commands import Debit, GrantCredits, OpenWallet, SetAllowance
from ledger.app.service import CreditLedger

__all__ = ["main"]

START = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """Business time the bench moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def aged_ledger(url: str, days: int) -> tuple[CreditLedger, int]:
    """A ledger with wallet ``w``: paid credits, and ``days`` days of a daily allowance."""
    clock = Clock()
    ledger = CreditLedger.from_url(url, clock=clock, group_commit=True)
    ledger.open_wallet(OpenWallet(wallet_id="w"))
    ledger.grant(GrantCredits(wallet_id="w", grant_id="paid", amount=10**12, category="paid"))
    if days:
        allowance = SetAllowance(wallet_id="w", allowance_id="plan", amount=10, period="day")
        ledger.set_allowance(allowance)
        clock.now = START + timedelta(days=days, hours=1)
        ledger.sweep()
    ledger.debit(Debit(wallet_id="w", amount=1))  # warm: loaded, cached
    return ledger, len(ledger.wallet("w")["grants"])


def us_per_debit(ledger: CreditLedger, debits: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(debits):
            ledger.debit(Debit(wallet_id="w", amount=1))
        best = min(best, (time.perf_counter() - started) / debits * 1e6)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", default="0,365,1000", help="wallet ages; 0 is the baseline")
    parser.add_argument("--debits", type=int, default=3000, help="debits per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported")
    parser.add_argument("--url", default="memory://", help="the store (default: memory)")
    args = parser.parse_args(argv)
    ages = sorted({int(d) for d in args.days.split(",") if d} | {0})
    baseline = None
    for days in ages:
        ledger, grants = aged_ledger(args.url, days)
        try:
            us = us_per_debit(ledger, args.debits, args.rounds)
        finally:
            ledger.close()
        baseline = baseline or us
        emit(
            {
                "scenario": "aged_wallet_debit",
                "days": days,
                "grants": grants,
                "us_per_debit": round(us, 1),
                "ratio_to_new_wallet": round(us / baseline, 2),
                "store": args.url.split(":", 1)[0],
                "python": platform.python_version(),
            }
        )


if __name__ == "__main__":
    main()
