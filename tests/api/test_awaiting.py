"""Wallet commands awaited on the event loop (api.awaiting), and fences confirmed at commit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import pytest

from api.awaiting import answer
from api.middleware.auth import Principal
from ledger.app.application import LedgerApplication
from ledger.app.commands import CaptureHold, Debit, PlaceHold
from ledger.app.committer import Committer
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger
from ledger.domain.errors import InsufficientCredits, Overloaded
from tests.support.builders import make_ledger, open_funded_wallet

SERVICE = Principal("k1", frozenset({"service"}))


@pytest.fixture
def ledger() -> Iterator[CreditLedger]:
    ledger = make_ledger(group_commit=True)
    open_funded_wallet(ledger, amount=100)
    yield ledger
    ledger.close()


def _debit(
    ledger: CreditLedger, amount: int, key: str | None = None, caller: Principal = SERVICE
) -> Outcome:
    debit = Debit(wallet_id="acme", amount=amount, idempotency_key=key)
    return asyncio.run(answer(ledger, ledger.debit_later, debit, caller))


def _available(ledger: CreditLedger) -> int:
    return int(ledger.wallet("acme")["balance"]["available"])


def _no_worker_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a worker thread was used")

    monkeypatch.setattr(anyio.to_thread, "run_sync", refuse)


def test_a_queued_debit_is_answered_without_a_worker_thread(
    ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_worker_threads(monkeypatch)

    outcome = _debit(ledger, 30)

    assert outcome.body["amount"] == 30
    assert outcome.position is not None
    assert _available(ledger) == 70


def test_a_hold_and_its_capture_are_answered_on_the_loop(
    ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_worker_threads(monkeypatch)
    place = PlaceHold(wallet_id="acme", hold_id="h1", amount=40)
    capture = CaptureHold(wallet_id="acme", hold_id="h1", amount=25)

    async def both() -> None:
        await answer(ledger, ledger.place_hold_later, place, SERVICE)
        await answer(ledger, ledger.capture_hold_later, capture, SERVICE)

    asyncio.run(both())

    assert _available(ledger) == 75


def test_a_refusal_is_raised_to_the_awaiting_handler(ledger: CreditLedger) -> None:
    with pytest.raises(InsufficientCredits):
        _debit(ledger, 101)

    assert _available(ledger) == 100


def test_a_committer_too_slow_answers_overloaded_and_the_debit_still_commits_once(
    ledger: CreditLedger,
) -> None:
    # Given a committer that answers after 50 ms at most, held back by its gate
    assert ledger.committer is not None
    ledger.committer.close()
    ledger.committer = Committer(ledger, wait_seconds=0.05)

    # When a debit is awaited while the writer is held
    with ledger.committer.paused(), pytest.raises(Overloaded, match="did not answer in time"):
        _debit(ledger, 10, key="k1")

    # Then the queued debit still commits (its future was not cancelled), and the retry
    # with the same key is a replay of it, not a second debit
    assert _debit(ledger, 10, key="k1").replayed
    assert _available(ledger) == 90


def test_without_group_commit_the_command_runs_in_a_worker_thread() -> None:
    ledger = make_ledger(group_commit=False)
    open_funded_wallet(ledger, amount=100)

    assert _debit(ledger, 5).body["amount"] == 5
    assert _available(ledger) == 95


# -- fences ----------------------------------------------------------------------------------


class Revoked(Exception):
    """The error a broken fake fence answers with."""


@dataclass(frozen=True)
class FakeFence:
    """A fence that holds while ``broken`` is empty and counts how often it was checked."""

    name: str
    checks: list[str] = field(default_factory=list, compare=False, hash=False)
    broken: set[str] = field(default_factory=set, compare=False, hash=False)

    def check(self, _ledger: LedgerApplication) -> None:
        self.checks.append(self.name)
        if self.name in self.broken:
            raise Revoked(self.name)


def _fenced(ledger: CreditLedger, fence: FakeFence, amount: int = 1) -> Any:
    return ledger.debit_later(Debit(wallet_id="acme", amount=amount), fence=fence)


def test_a_fence_is_confirmed_once_per_batch_for_every_command_that_shares_it(
    ledger: CreditLedger,
) -> None:
    assert ledger.committer is not None
    checks: list[str] = []
    with ledger.committer.paused():
        futures = [_fenced(ledger, FakeFence("k1", checks)) for _ in range(5)]
        futures.append(_fenced(ledger, FakeFence("k2", checks)))

    assert [f.result(timeout=5).body["amount"] for f in futures] == [1] * 6
    assert sorted(checks) == ["k1", "k2"]
    assert _available(ledger) == 94


def test_a_broken_fence_refuses_its_commands_with_its_error_and_records_nothing(
    ledger: CreditLedger,
) -> None:
    assert ledger.committer is not None
    checks: list[str] = []
    broken = {"revoked"}
    with ledger.committer.paused():
        refused = [_fenced(ledger, FakeFence("revoked", checks, broken), 10) for _ in range(2)]
        kept = _fenced(ledger, FakeFence("fine", checks, broken), 7)

    for future in refused:
        with pytest.raises(Revoked):
            future.result(timeout=5)
    assert kept.result(timeout=5).body["amount"] == 7
    assert _available(ledger) == 93


def test_without_group_commit_the_fence_is_confirmed_before_deciding() -> None:
    ledger = make_ledger(group_commit=False)
    open_funded_wallet(ledger, amount=100)

    future = _fenced(ledger, FakeFence("revoked", broken={"revoked"}), 10)

    with pytest.raises(Revoked):
        ledger.settle(future)
    assert _available(ledger) == 100
