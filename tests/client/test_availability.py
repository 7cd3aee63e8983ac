"""The availability policy against the fake ledger: ``closed`` raises, ``open`` allows,
journals and replays with the same keys (nothing lost, nothing doubled). The same against a
real server stopped mid-run and started again: tests/client/test_outage.py."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from credit_ledger import (
    AsyncLedger,
    ConnectionFailed,
    Debit,
    Deferred,
    JournalFull,
    JournalInUse,
    Ledger,
    RateLimited,
)

from tests.client.conftest import KEY
from tests.client.fakes import COMMIT_THEN_DROP, FakeLedger, problem

URL = "http://ledger.test"


def open_ledger(fake: FakeLedger, journal: Path, **options: int) -> Ledger[Deferred]:
    return Ledger(
        URL,
        KEY,
        transport=fake.transport(),
        on_unavailable="open",
        journal_path=journal,
        **options,
    )


def wait_until_replayed(ledger: Ledger[Deferred], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ledger.pending_journal and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ledger.pending_journal == []


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "ledger-journal.jsonl"


def test_closed_policy_raises_when_the_ledger_is_unreachable(
    ledger: Ledger, fake: FakeLedger
) -> None:
    fake.down = True

    with pytest.raises(ConnectionFailed):
        ledger.debit("acme", 10)


def test_open_policy_allows_journals_and_replays_with_the_same_key(
    fake: FakeLedger, journal: Path, delays: list[float]
) -> None:
    with open_ledger(fake, journal) as ledger:
        fake.down = True
        deferred = ledger.debit("acme", 10, subject={"user_id": "u1"})
        assert isinstance(deferred, Deferred)
        assert deferred.amount == 10
        assert [e.key for e in ledger.pending_journal] == [deferred.idempotency_key]
        assert fake.balances == {}

        fake.down = False
        answered = ledger.debit("acme", 5)  # the service answers: the journal is replayed
        wait_until_replayed(ledger)

    assert isinstance(answered, Debit)
    attempts = [r for r in fake.sent("/v1/wallets/acme/debits") if r.body["amount"] == 10]
    assert {r.key for r in attempts} == {deferred.idempotency_key}
    assert len({json.dumps(r.body, sort_keys=True) for r in attempts}) == 1
    assert "occurred_at" in attempts[0].body
    assert fake.balances["acme"] == 985
    assert len(delays) >= 3


def test_a_call_decided_before_its_answer_was_lost_is_not_decided_again(
    fake: FakeLedger, journal: Path
) -> None:
    with open_ledger(fake, journal) as ledger:
        fake.faults = [lambda _: COMMIT_THEN_DROP]
        fake.faults.append(lambda _: problem(503, "not_ready"))
        fake.faults += [lambda _: problem(503, "not_ready")] * 3
        deferred = ledger.debit("acme", 10)
        assert isinstance(deferred, Deferred)
        assert fake.balances["acme"] == 990  # the first attempt was decided

        report = ledger.replay_journal()

    assert (report.settled, report.rejected, report.remaining) == (1, 0, 0)
    assert fake.balances["acme"] == 990
    assert len(fake.debits) == 1


def test_the_journal_survives_the_process_and_another_client_replays_it(
    fake: FakeLedger, journal: Path
) -> None:
    fake.down = True
    with open_ledger(fake, journal) as first:
        first.debit("acme", 10)
        first.debit("beta", 20)
    fake.down = False

    with open_ledger(fake, journal) as second:
        assert len(second.pending_journal) == 2
        report = second.replay_journal()

    assert report.settled == 2
    assert (fake.balances["acme"], fake.balances["beta"]) == (990, 980)
    assert journal.read_text() == ""  # compacted once everything was settled


def test_one_journal_has_one_owner(fake: FakeLedger, journal: Path) -> None:
    with open_ledger(fake, journal), pytest.raises(JournalInUse):
        open_ledger(fake, journal)


def test_a_full_journal_refuses_as_the_closed_policy_does(fake: FakeLedger, journal: Path) -> None:
    fake.down = True
    with open_ledger(fake, journal, journal_max_entries=2) as ledger:
        ledger.debit("acme", 1)
        ledger.debit("acme", 2)
        with pytest.raises(ConnectionFailed) as raised:
            ledger.debit("acme", 3)
        with pytest.raises(ConnectionFailed):
            ledger.hold("acme", 5).__enter__()

    assert "journal is full" in raised.value.__notes__[0]


def test_an_entry_refused_on_replay_is_kept_apart_with_its_problem(
    fake: FakeLedger, journal: Path
) -> None:
    with open_ledger(fake, journal) as ledger:
        fake.down = True
        ledger.debit("acme", 800)
        ledger.debit("acme", 700)
        fake.down = False
        report = ledger.replay_journal()
        rejected = ledger.rejected_journal()

    assert (report.settled, report.rejected) == (1, 1)
    assert [r["body"]["amount"] for r in rejected] == [700]
    assert rejected[0]["problem"]["code"] == "insufficient_credits"
    assert fake.balances["acme"] == 200


def test_a_deferred_hold_runs_the_block_and_its_capture_becomes_a_debit(
    fake: FakeLedger, journal: Path
) -> None:
    with open_ledger(fake, journal) as ledger:
        fake.down = True
        with ledger.hold("acme", 50, subject={"user_id": "u1", "model": "m"}) as h:
            assert h.hold_id is None
            assert h.deferred is not None
            captured = h.capture(30)
        with ledger.hold("acme", 50):
            pass  # released: a deferred hold held nothing, nothing is journaled
        assert isinstance(captured, Deferred)
        assert captured.operation == "debit"
        fake.down = False
        report = ledger.replay_journal()

    assert report.settled == 1
    assert fake.holds == {}
    assert fake.debits[0]["amount"] == 30
    assert fake.debits[0]["subject"] == {"user_id": "u1", "model": "m"}
    assert fake.balances["acme"] == 970


def test_a_deferred_capture_of_a_hold_that_expired_meanwhile_is_debited(
    fake: FakeLedger, journal: Path
) -> None:
    with open_ledger(fake, journal) as ledger:
        with ledger.hold("acme", 50, subject={"user_id": "u1"}) as h:
            fake.down = True
            deferred = h.capture(30)
            fake.down = False
        fake.holds[h.hold_id or ""]["status"] = "expired"
        fake.balances["acme"] += 50  # the expiry gave the held credits back
        report = ledger.replay_journal()
        again = ledger.replay_journal()

    assert isinstance(deferred, Deferred)
    assert report.settled == 1
    assert again.settled == 0
    debited = fake.sent("/v1/wallets/acme/debits")
    assert [r.key for r in debited] == [f"{deferred.idempotency_key}:debit"]
    assert debited[0].body["amount"] == 30
    assert debited[0].body["subject"] == {"user_id": "u1"}
    assert fake.balances["acme"] == 970


def test_a_rate_limit_is_not_unavailability(fake: FakeLedger, journal: Path) -> None:
    fake.faults = [lambda _: problem(429, "rate_limited")] * 5
    ledger = open_ledger(fake, journal)
    with ledger, pytest.raises(RateLimited):
        ledger.debit("acme", 1)


def test_a_deferred_capture_needs_room_in_the_journal(fake: FakeLedger, journal: Path) -> None:
    with open_ledger(fake, journal, journal_max_entries=1) as ledger:
        fake.down = True
        with ledger.hold("acme", 5) as h:
            ledger.debit("acme", 1)  # takes the last slot
            with pytest.raises(JournalFull):
                h.capture(5)


def test_the_async_client_defers_and_replays(fake: FakeLedger, journal: Path) -> None:
    async def run() -> tuple[object, object, list[object]]:
        async with AsyncLedger(
            URL, KEY, transport=fake.transport(), on_unavailable="open", journal_path=journal
        ) as ledger:
            fake.down = True
            deferred = await ledger.debit("acme", 10)
            fake.down = False
            answered = await ledger.debit("acme", 5)  # starts the replay in a task
            for _ in range(500):
                if not ledger.pending_journal:
                    break
                await asyncio.sleep(0.01)
            return deferred, answered, list(ledger.pending_journal)

    deferred, answered, pending = asyncio.run(run())

    assert isinstance(deferred, Deferred)
    assert isinstance(answered, Debit)
    assert pending == []
    assert fake.balances["acme"] == 985
