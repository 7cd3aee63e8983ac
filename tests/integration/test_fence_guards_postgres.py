"""The caller's key is confirmed inside the batch's commit (decision 0027), on PostgreSQL.

The committer does not read the key before deciding: the key's "no event past version v" is
checked in the batch's transaction, after the events table lock. A key revoked by another
process meanwhile fails that transaction; the batch is then decided again with the key read
first, so its commands are refused ``unauthenticated`` and record nothing, and no answer
(not even a refusal, which would show a balance) leaves before the key was confirmed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import pytest

from api.errors import Unauthenticated
from api.middleware.key_cache import KeyCache, KeyFence
from ledger.app.commands import Debit
from ledger.app.executor import Outcome
from ledger.app.guards import Guarding
from ledger.app.keys import issue_api_key, revoke_key
from ledger.app.service import CreditLedger
from ledger.domain.errors import InsufficientCredits
from ledger.store.recorders import UsagePostgresRecorder
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.postgres import schema_url, traced


@pytest.fixture
def url(postgres_url: str, pg_schema: str) -> str:
    return schema_url(postgres_url, pg_schema)


@pytest.fixture
def ledger(url: str) -> Iterator[CreditLedger]:
    app = make_ledger(url, FakeClock(), group_commit=True)
    open_funded_wallet(app, amount=100)
    yield app
    app.close()


def fence_for(ledger: CreditLedger) -> tuple[str, KeyFence]:
    key, presented = issue_api_key(ledger.home, ["service"], "guarded")
    verified = KeyCache().verify(ledger.home, presented)
    assert verified is not None
    return key.key_id, verified.fence


def revoke_elsewhere(url: str, key_id: str) -> None:
    """Revoke from another ledger instance: another pool, as another process would."""
    other = make_ledger(url, FakeClock(), group_commit=False)
    try:
        assert revoke_key(other.home, key_id)
    finally:
        other.close()


@pytest.fixture
def guard_failures(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a batch's commit failed on a guard."""
    failed: list[int] = []
    real = Guarding.failed

    def counted(self: Guarding) -> None:
        failed.append(len(self.guards))
        real(self)

    monkeypatch.setattr(Guarding, "failed", counted)
    return failed


def debit(ledger: CreditLedger, amount: int, fence: KeyFence, key: str) -> Future[Outcome]:
    return ledger.debit_later(
        Debit(wallet_id="acme", amount=amount, idempotency_key=key), fence=fence
    )


def test_a_fenced_debit_commits_in_one_round_trip(ledger: CreditLedger, tmp_path: Path) -> None:
    _, fence = fence_for(ledger)
    ledger.settle(debit(ledger, 1, fence, "warm"))

    datastore = cast("UsagePostgresRecorder", ledger.home.recorder).datastore
    with traced(datastore, tmp_path / "trace") as lines:
        ledger.settle(debit(ledger, 2, fence, "traced"))

    sent = [line for line in lines if line.startswith("F")]
    received = [line for line in lines if line.startswith("B")]
    assert sum("Sync" in line for line in sent) == 1  # one round trip: no key read first
    assert any("RAISE EXCEPTION" in line for line in sent)  # the key is checked in it
    assert received[-1].endswith("I")  # ReadyForQuery, idle: committed
    assert ledger.wallet("acme")["balance"]["available"] == 97


def test_a_key_revoked_by_another_process_refuses_at_commit_and_records_nothing(
    ledger: CreditLedger, url: str, guard_failures: list[int]
) -> None:
    key_id, fence = fence_for(ledger)
    ledger.settle(debit(ledger, 1, fence, "before"))
    version = ledger.wallet("acme")["version"]
    revoke_elsewhere(url, key_id)

    with pytest.raises(Unauthenticated):
        ledger.settle(debit(ledger, 5, fence, "after"))

    assert guard_failures == [1]  # the commit's guard caught it; then the key was read
    assert ledger.wallet("acme")["version"] == version
    assert ledger.wallet("acme")["balance"]["available"] == 99


def test_a_refusal_is_not_answered_before_the_key_is_confirmed(
    ledger: CreditLedger, url: str
) -> None:
    key_id, fence = fence_for(ledger)
    revoke_elsewhere(url, key_id)

    with pytest.raises(Unauthenticated):  # not insufficient_credits, which shows a balance
        ledger.settle(debit(ledger, 1_000, fence, "too-much"))

    _, standing = fence_for(ledger)
    with pytest.raises(InsufficientCredits):
        ledger.settle(debit(ledger, 1_000, standing, "too-much-2"))


def test_a_revoked_key_leaves_other_keys_commands_in_the_batch_committed(
    ledger: CreditLedger, url: str, guard_failures: list[int]
) -> None:
    revoked_id, revoked = fence_for(ledger)
    _, standing = fence_for(ledger)
    revoke_elsewhere(url, revoked_id)
    committer = ledger.committer
    assert committer is not None
    futures: list[Future[Outcome]] = []

    def send() -> None:
        futures.extend(
            debit(ledger, 3, fence, f"k{n}") for n, fence in enumerate([standing, revoked] * 3)
        )

    sender = threading.Thread(target=send)
    with committer.paused():  # all six are decided as one batch
        sender.start()
        sender.join(10)
        while committer.queued() < 6:
            time.sleep(0.001)
    answers: list[Any] = []
    for future in futures:
        try:
            answers.append(ledger.settle(future).body["amount"])
        except Unauthenticated as refused:
            answers.append(refused.code)

    assert answers == [3, "unauthenticated"] * 3
    assert guard_failures == [2]  # both keys' guards were in the commit that failed
    assert ledger.wallet("acme")["balance"]["available"] == 100 - 9


def test_a_retried_key_is_replayed_only_once_its_key_is_confirmed(
    ledger: CreditLedger, url: str
) -> None:
    key_id, fence = fence_for(ledger)
    first = ledger.settle(debit(ledger, 4, fence, "same"))
    assert ledger.settle(debit(ledger, 4, fence, "same")).replayed
    revoke_elsewhere(url, key_id)

    with pytest.raises(Unauthenticated):  # the replay would show the stored answer
        ledger.settle(debit(ledger, 4, fence, "same"))

    assert first.body["amount"] == 4
    assert ledger.wallet("acme")["balance"]["available"] == 96
