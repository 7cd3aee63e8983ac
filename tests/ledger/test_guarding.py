"""The committer's guard bookkeeping (ledger.app.guards): answers withheld behind a fence's
guard are handed over once the commit confirmed it, or once the fence is read."""

from __future__ import annotations

from concurrent.futures import InvalidStateError
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest

from ledger.app.commands import Debit
from ledger.app.executor import Outcome
from ledger.app.guards import Guard, Guarding
from ledger.app.ports import Job


class Revoked(Exception):
    """What a fence's read raises for a revoked key (the API's ``unauthenticated``)."""


@dataclass(frozen=True)
class FakeFence:
    """A key fence: offers a guard (counted) and, when read, holds unless ``revoked``."""

    key_id: str
    revoked: bool = False
    calls: list[str] = field(default_factory=list, compare=False, hash=False)

    def guard(self) -> Guard:
        self.calls.append("guard")
        return Guard(UUID(int=len(self.key_id)), 1)

    def check(self, ledger: Any) -> None:
        del ledger
        self.calls.append("check")
        if self.revoked:
            raise Revoked(self.key_id)


class FakeStore:
    """A home store whose recorder checks guards in the commit."""

    supports_guards = True

    def __init__(self) -> None:
        self.home = self
        self.recorder = self


def _job(fence: FakeFence, key: str) -> Job:
    command = Debit(wallet_id="w", amount=1, idempotency_key=key)
    return Job("w", key, True, command, lambda *_: {}, fence=fence)


def test_a_withheld_answer_reaches_the_caller_once_the_commit_confirmed_its_guard() -> None:
    guarding, store, fence = Guarding(), FakeStore(), FakeFence("k1")
    jobs = [_job(fence, f"key-{i}") for i in range(3)]
    real = [job.future for job in jobs]
    guarding.new_round()
    assert all(guarding.take(job, store) for job in jobs)
    # the guard is derived once for the three jobs of one fence, and nothing is read
    assert fence.calls == ["guard"]
    assert len(guarding.guards) == 1
    for i, job in enumerate(jobs):
        assert job.future is not real[i]
        job.future.set_result(Outcome({"n": i}))
    assert not any(f.done() for f in real)  # nothing reaches the caller before the commit
    guarding.committed = True
    guarding.release(store)
    assert [f.result(timeout=0) for f in real] == [Outcome({"n": i}) for i in range(3)]
    assert [job.future for job in jobs] == real
    assert fence.calls == ["guard"]


def test_an_uncommitted_round_reads_the_fence_before_handing_over_a_refusal() -> None:
    guarding, store = Guarding(), FakeStore()
    revoked, valid = FakeFence("k1", revoked=True), FakeFence("k22")
    first, second = _job(revoked, "a"), _job(valid, "b")
    real_first, real_second = first.future, second.future
    guarding.new_round()
    guarding.take(first, store)
    guarding.take(second, store)
    first.future.set_exception(ValueError("refused on its own"))
    second.future.set_exception(ValueError("insufficient"))
    guarding.release(store)  # nothing committed: each fence is read once
    assert isinstance(real_first.exception(timeout=0), Revoked)
    assert str(real_second.exception(timeout=0)) == "insufficient"
    assert revoked.calls == ["guard", "check"]
    assert valid.calls == ["guard", "check"]


def test_a_withheld_answer_is_set_once() -> None:
    guarding, store = Guarding(), FakeStore()
    job = _job(FakeFence("k1"), "a")
    guarding.new_round()
    guarding.take(job, store)
    assert not job.future.done()
    job.future.set_result(Outcome({}))
    with pytest.raises(InvalidStateError):
        job.future.set_exception(ValueError("late"))
    assert job.future.done()
    assert job.future.exception() is None
