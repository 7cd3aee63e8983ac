"""The batched write path (ledger.committer): many commands, one decision each, one commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.app.commands import CaptureHold, Debit, GrantCredits, OpenWallet, PlaceHold, ReleaseHold
from ledger.app.executor import MAX_ATTEMPTS_EVER, Outcome
from ledger.app.service import CreditLedger
from ledger.domain.errors import (
    Contention,
    HoldNotOpen,
    InsufficientCredits,
    LedgerError,
    Overloaded,
)
from ledger.domain.ids import hold_record_id
from ledger.domain.records import HoldRecord
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.racing import beat_each_read

Result = Outcome | LedgerError


class SaveCounter:
    """Counts the ledger's transactions (a spy on ``save``, not a mock: it still saves)."""

    def __init__(self, ledger: CreditLedger) -> None:
        self.calls = 0
        original = ledger.save

        def counted(*objs: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*objs, **kwargs)

        ledger.save = counted  # type: ignore[method-assign]


@pytest.fixture
def ledger() -> Iterator[CreditLedger]:
    ledger = make_ledger(group_commit=True)
    yield ledger
    ledger.close()


def _as_batch(ledger: CreditLedger, calls: list[Callable[[], Outcome]]) -> list[Result]:
    """Run ``calls`` from threads while the writer is paused, so they form one batch."""
    assert ledger.committer is not None
    results: list[Result | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except LedgerError as refusal:
            results[index] = refusal

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with ledger.committer.paused():
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while ledger.committer.queued() < len(calls) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert ledger.committer.queued() == len(calls)
    for thread in threads:
        thread.join(timeout=10)
    return [r for r in results if r is not None]


def _debit(ledger: CreditLedger, amount: int, key: str | None = None) -> Callable[[], Outcome]:
    return lambda: ledger.debit(Debit(wallet_id="acme", amount=amount, idempotency_key=key))


def test_a_batch_commits_in_one_transaction(ledger: CreditLedger) -> None:
    # Given a funded wallet and a spy on transactions
    open_funded_wallet(ledger, amount=100)
    saves = SaveCounter(ledger)

    # When five debits arrive together
    results = _as_batch(ledger, [_debit(ledger, 10) for _ in range(5)])

    # Then all five succeed and were committed in a single transaction
    assert all(isinstance(r, Outcome) for r in results)
    assert saves.calls == 1
    assert ledger.wallet("acme")["balance"]["available"] == 50


def test_a_denied_command_in_a_batch_does_not_stop_the_others(ledger: CreditLedger) -> None:
    # Given 100 credits
    open_funded_wallet(ledger, amount=100)

    # When 60, 60 and 30 arrive in one batch
    results = _as_batch(ledger, [_debit(ledger, 60), _debit(ledger, 60), _debit(ledger, 30)])

    # Then exactly one 60 is refused and the others are recorded: 10 left, no overdraft
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(refused) == 1
    assert sorted(r.body["amount"] for r in results if isinstance(r, Outcome)) == [30, 60]
    assert ledger.wallet("acme")["balance"]["available"] == 10


def test_the_same_key_twice_in_one_batch_records_once(ledger: CreditLedger) -> None:
    # Given a funded wallet
    open_funded_wallet(ledger, amount=100)

    # When the same keyed debit is sent three times in one batch
    results = _as_batch(ledger, [_debit(ledger, 10, key="k") for _ in range(3)])

    # Then one debit is recorded and every caller gets its body (two as replays)
    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert len(outcomes) == 3
    assert len({o.body["debit_id"] for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False, True, True]
    assert ledger.wallet("acme")["balance"]["available"] == 90


def test_a_full_queue_answers_overloaded_at_once() -> None:
    # Given a paused writer holding one job and room for one more queued job
    ledger = make_ledger(group_commit=True)
    open_funded_wallet(ledger, amount=100)
    assert ledger.committer is not None
    ledger.committer._queue.maxsize = 1  # shrink the bound for the test
    first: list[Result] = []
    with ledger.committer.paused():
        waiting = [
            threading.Thread(target=lambda: first.append(_debit(ledger, 1)())) for _ in range(2)
        ]
        # One at a time: the writer takes the first (and waits at the gate) before the
        # second fills the one queue slot, or the second would find the queue full.
        # (``queued() == 1`` would not do: the job may still be in the queue, not taken.)
        committer = ledger.committer
        waiting[0].start()
        _wait_until(lambda: committer._held == 1 and committer._queue.qsize() == 0)
        waiting[1].start()
        _wait_until(lambda: committer.queued() == 2)

        # When another command arrives / Then it is refused immediately, recording nothing
        with pytest.raises(Overloaded, match="queue is full"):
            _debit(ledger, 1)()
    for thread in waiting:
        thread.join(timeout=10)
    assert [isinstance(result, Outcome) for result in first] == [True, True]
    assert ledger.wallet("acme")["balance"]["available"] == 98
    ledger.close()


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_closing_answers_queued_jobs_and_refuses_new_ones() -> None:
    # Given a paused writer with a job taken and another queued
    ledger = make_ledger(group_commit=True)
    open_funded_wallet(ledger, amount=100)
    committer = ledger.committer
    assert committer is not None
    results: list[Result] = []

    def run() -> None:
        try:
            results.append(_debit(ledger, 1)())
        except LedgerError as refusal:
            results.append(refusal)

    threads = [threading.Thread(target=run) for _ in range(2)]
    with committer.paused():
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while committer.queued() < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        closing = threading.Thread(target=committer.close)
        closing.start()
    closing.join(timeout=10)
    for thread in threads:
        thread.join(timeout=10)

    # Then every job got an answer (none left to time out) and new work is refused at once
    assert len(results) == 2
    assert not closing.is_alive()
    with pytest.raises(Overloaded, match="closing"):
        _debit(ledger, 1)()
    ledger.close()


def _two_writers(tmp_path: Path) -> tuple[CreditLedger, CreditLedger, FakeClock]:
    url = "sqlite:///" + str(tmp_path / "ledger.sqlite3")
    clock = FakeClock()
    batched = make_ledger(url, clock=clock, group_commit=True)
    direct = make_ledger(url, clock=clock, group_commit=False)
    for wallet_id in ("w1", "w2"):
        batched.open_wallet(OpenWallet(wallet_id=wallet_id))
        batched.grant(GrantCredits(wallet_id=wallet_id, amount=100, category="paid"))
    return batched, direct, clock


def test_a_conflict_re_decides_only_the_wallet_that_changed(tmp_path: Path) -> None:
    # Given the batched writer has both wallets cached, then another process debits w1
    batched, direct, _ = _two_writers(tmp_path)
    direct.debit(Debit(wallet_id="w1", amount=70))
    decisions: list[str] = []
    reloaded: list[str] = []
    load = batched.load_wallet

    def spy_load(wallet_id: str) -> Any:
        reloaded.append(wallet_id)
        return load(wallet_id)

    batched.load_wallet = spy_load  # type: ignore[method-assign]

    # When a batch debits 50 from each wallet
    results = _as_batch(
        batched,
        [
            lambda: batched.debit(Debit(wallet_id="w1", amount=50, metadata={"n": 1})),
            lambda: batched.debit(Debit(wallet_id="w2", amount=50, metadata={"n": 2})),
        ],
    )
    decisions.extend(type(r).__name__ for r in results)

    # Then w1's debit was decided again on fresh state (30 left: refused, no overdraft)
    # while w2's debit was committed as first decided: only w1 was read from the store again
    assert sorted(decisions) == ["InsufficientCredits", "Outcome"]
    assert reloaded == ["w1"]
    assert batched.wallet("w1")["balance"]["available"] == 30
    assert batched.wallet("w2")["balance"]["available"] == 50
    batched.close()
    direct.close()


def _fought_over(
    tmp_path: Path, times: int, contention_seconds: float | None = None
) -> tuple[CreditLedger, CreditLedger, list[int]]:
    """A batched and a direct writer on one store. The direct one (another process) has
    just debited w1, then debits it again after each of the batched writer's reads of w1 (at
    most ``times`` times), so the batch's save finds w1 moved. Also returns those debits."""
    batched, direct, _ = _two_writers(tmp_path)
    assert batched.committer is not None
    if contention_seconds is not None:
        batched.committer.contention_seconds = contention_seconds
    direct.debit(Debit(wallet_id="w1", amount=1))
    return batched, direct, beat_each_read(batched, direct, times, "w1")


def test_a_command_beaten_more_than_eight_times_is_still_decided(tmp_path: Path) -> None:
    # Given another process that writes w1 between each read and save of the batched
    # writer, twelve times in a row (a lease that just moved: two writers for a while)
    batched, direct, beaten = _fought_over(tmp_path, times=12)

    # When the batched writer debits 50
    outcome = batched.debit(Debit(wallet_id="w1", amount=50))

    # Then it kept re-deciding past its eight attempts, within its time, and committed once
    assert len(beaten) == 12
    assert outcome.body["balance"]["available"] == 100 - 1 - 12 - 50
    assert direct.wallet("w1")["balance"]["available"] == 37
    batched.close()
    direct.close()


def test_contention_is_answered_after_eight_attempts_even_without_time(tmp_path: Path) -> None:
    # Given a writer with no time to keep trying, always beaten on w1
    batched, direct, beaten = _fought_over(tmp_path, times=10_000, contention_seconds=0)

    # When it debits, then it still made its eight attempts before answering contention
    with pytest.raises(Contention) as refused:
        batched.debit(Debit(wallet_id="w1", amount=10))
    assert refused.value.attempts == 8
    assert len(beaten) == 7  # every attempt after the first read w1 again
    batched.close()
    direct.close()


def test_contention_is_answered_once_the_time_has_passed(tmp_path: Path) -> None:
    # Given a writer with half a second to keep trying (eight attempts take ~0.1 s), always
    # beaten on w1
    batched, direct, beaten = _fought_over(tmp_path, times=10_000, contention_seconds=0.5)

    # When the batched writer debits 10
    began = time.monotonic()
    with pytest.raises(Contention) as refused:
        batched.debit(Debit(wallet_id="w1", amount=10))

    # Then it kept trying past eight attempts until the time had passed, and nothing of its
    # own was recorded
    assert time.monotonic() - began >= 0.5
    assert 8 < refused.value.attempts < MAX_ATTEMPTS_EVER
    assert len(beaten) == refused.value.attempts - 1
    assert direct.wallet("w1")["balance"]["available"] == 100 - 1 - len(beaten)
    batched.close()
    direct.close()


def test_contention_is_answered_after_at_most_64_attempts_whatever_the_time(
    tmp_path: Path,
) -> None:
    # Given a writer that would keep trying for an hour, always beaten
    batched, direct, beaten = _fought_over(tmp_path, times=10_000, contention_seconds=3600)

    # When it debits, then it stops at the bound on attempts
    with pytest.raises(Contention) as refused:
        batched.debit(Debit(wallet_id="w1", amount=10))
    assert refused.value.attempts == MAX_ATTEMPTS_EVER
    assert len(beaten) == MAX_ATTEMPTS_EVER - 1
    batched.close()
    direct.close()


def test_a_refusal_on_a_stale_cached_wallet_is_decided_again(tmp_path: Path) -> None:
    # Given the batched writer cached w1 with 100, then another process grants 500 more
    batched, direct, _ = _two_writers(tmp_path)
    direct.grant(GrantCredits(wallet_id="w1", amount=500, category="paid"))

    # When the batched writer is asked for 300 (more than its cached view holds)
    outcome = batched.debit(Debit(wallet_id="w1", amount=300))

    # Then it is not refused on stale state: the debit succeeds against the fresh balance
    assert outcome.body["balance"]["available"] == 300
    batched.close()
    direct.close()


def _record_reads(ledger: CreditLedger) -> list[Any]:
    """Counts the hold-record reads of ``ledger`` (a spy on ``find``: it still reads)."""
    reads: list[Any] = []
    find = ledger.find

    def spy(aggregate_id: Any) -> Any:
        found = find(aggregate_id)
        if isinstance(found, HoldRecord):
            reads.append(aggregate_id)
        return found

    ledger.find = spy  # type: ignore[method-assign]
    return reads


def test_a_hold_placed_here_is_closed_without_reading_its_record(tmp_path: Path) -> None:
    batched, direct, _ = _two_writers(tmp_path)
    batched.place_hold(PlaceHold(wallet_id="w1", hold_id="h1", amount=30))
    reads = _record_reads(batched)

    batched.capture_hold(CaptureHold(wallet_id="w1", hold_id="h1", amount=10))

    assert reads == []
    record = batched.find(hold_record_id("w1", "h1"))
    assert isinstance(record, HoldRecord)
    assert (record.status, record.view["captured"], record.version) == ("captured", 10, 2)
    batched.close()
    direct.close()


def test_a_hold_another_process_closed_is_not_closed_again_from_memory(tmp_path: Path) -> None:
    # Given a hold placed by the batched writer (its record kept in memory), then released
    # by another process
    batched, direct, _ = _two_writers(tmp_path)
    batched.place_hold(PlaceHold(wallet_id="w1", hold_id="h1", amount=30))
    direct.release_hold(ReleaseHold(wallet_id="w1", hold_id="h1"))

    # When the batched writer is asked to capture it
    with pytest.raises(HoldNotOpen) as refused:
        batched.capture_hold(CaptureHold(wallet_id="w1", hold_id="h1", amount=10))

    # Then it is refused as released, and the record was closed once, by the release
    assert refused.value.details()["status"] == "released"
    record = batched.find(hold_record_id("w1", "h1"))
    assert isinstance(record, HoldRecord)
    assert (record.status, record.version) == ("released", 2)
    assert batched.wallet("w1")["balance"]["available"] == 100
    batched.close()
    direct.close()
