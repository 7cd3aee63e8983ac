"""The direct writer and usage ingest re-decide within the same bounds as the group-commit
writer (``ledger.app.executor.out_of_attempts``): at least eight attempts, then until their
time has passed, never more than 64. Two owners of a shard write its wallets for up to a
lease round, longer than eight quick attempts last.

Two ledgers share one SQLite file: ``racing`` (the one under test, direct path) and
``other`` (another process), which debits ``acme`` between each of racing's reads of the
wallet and its save, so the save finds the wallet moved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.app.commands import Debit, GrantCredits, OpenWallet, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.errors import Contention
from tests.support.builders import FakeClock, make_ledger
from tests.support.racing import beat_each_read
from tests.support.usage import recorded, usage

GPT = {"model": "gpt", "input_per_million": 20_000, "output_per_million": 80_000}


def _raced(tmp_path: Path, times: int) -> tuple[CreditLedger, CreditLedger, list[int]]:
    url = "sqlite:///" + str(tmp_path / "ledger.sqlite3")
    clock = FakeClock()
    racing = make_ledger(url, clock=clock, group_commit=False)
    other = make_ledger(url, clock=clock, group_commit=False)
    racing.open_wallet(OpenWallet(wallet_id="acme"))
    racing.grant(GrantCredits(wallet_id="acme", amount=1000, category="paid"))
    racing.put_price_book(PutPriceBook(price_book_id="default", rates=[GPT]))
    other.debit(Debit(wallet_id="acme", amount=1))
    return racing, other, beat_each_read(racing, other, times)


def test_a_direct_debit_beaten_more_than_eight_times_is_still_decided(tmp_path: Path) -> None:
    # Given another process that writes acme between each read and save, twelve times
    racing, other, beaten = _raced(tmp_path, times=12)

    # When the direct writer debits 50
    outcome = racing.debit(Debit(wallet_id="acme", amount=50))

    # Then it kept re-deciding past eight attempts, within its time, and committed once
    assert len(beaten) == 12
    assert outcome.body["balance"]["available"] == 1000 - 1 - 12 - 50
    assert other.wallet("acme")["balance"]["available"] == 1000 - 1 - 12 - 50
    racing.close()
    other.close()


def test_a_direct_debit_with_no_time_answers_contention_after_eight_attempts(
    tmp_path: Path,
) -> None:
    racing, other, beaten = _raced(tmp_path, times=10_000)
    racing.writer.contention_seconds = 0  # type: ignore[attr-defined]

    with pytest.raises(Contention) as refused:
        racing.debit(Debit(wallet_id="acme", amount=50))

    assert refused.value.attempts == 8
    assert len(beaten) == 8
    assert other.wallet("acme")["balance"]["available"] == 1000 - 1 - 8
    racing.close()
    other.close()


def test_billed_usage_beaten_more_than_eight_times_is_still_recorded(tmp_path: Path) -> None:
    # Given another process that writes acme between each read and save of the ingest
    racing, other, beaten = _raced(tmp_path, times=12)

    # When a billed usage event for acme is ingested (rated 24 + 28 = 52 credits)
    outcome = racing.ingest_usage([{**usage("e-1"), "bill": True}])

    # Then it was re-decided past eight attempts and billed once
    assert outcome.body["accepted"] == 1
    assert len(beaten) == 12
    assert [r["billed"] for r in recorded(racing)] == [52]
    assert other.wallet("acme")["balance"]["available"] == 1000 - 1 - 12 - 52
    racing.close()
    other.close()
