"""Resharding: a store copied into another shard count answers exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from api.cli.main import main
from ledger.app import reshard as reshard_module
from ledger.app.alerting import Alerting
from ledger.app.commands import (
    Debit,
    OpenWallet,
)
from ledger.app.keys import verify_key
from ledger.app.reshard import SourceChanged, TargetNotEmpty, reshard
from ledger.app.service import CreditLedger
from ledger.domain.errors import IdempotencyConflict
from ledger.domain.ids import wallet_uuid
from tests.support.builders import FakeClock, make_ledger
from tests.support.reshard import WALLETS, populate, snapshot, url, usage_batch


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[CreditLedger, dict[str, Any]]]:
    app = make_ledger(url(tmp_path, "source"), clock=clock)
    facts = populate(app)
    yield app, facts
    app.close()


@pytest.mark.parametrize(("count", "page"), [(3, 500), (2, 1), (3, 7)])
def test_a_resharded_store_answers_as_the_source(
    tmp_path: Path,
    clock: FakeClock,
    source: tuple[CreditLedger, dict[str, Any]],
    count: int,
    page: int,
) -> None:
    """Small pages put hold records' two events and usage batches on page edges."""
    old, facts = source
    target = make_ledger(url(tmp_path, "target"), clock=clock, env={"SHARDS": str(count)})
    try:
        report = reshard(old, target, page=page)
        assert report.usage_events == 2 * len(WALLETS)
        assert sum(report.per_shard) == report.events
        assert all(n > 0 for n in report.per_shard)
        assert snapshot(target) == snapshot(old)
        for n, wallet_id in enumerate(WALLETS):
            holders = [s.shard_index for s in target.shards if s.find(wallet_uuid(wallet_id))]
            assert len(holders) == 1
            replay = target.debit(Debit(wallet_id=wallet_id, amount=10 + n, idempotency_key="d1"))
            assert replay.replayed
            opened = target.open_wallet(
                OpenWallet(wallet_id=wallet_id, idempotency_key=f"open-{wallet_id}")
            )
            assert opened.replayed
            other = WALLETS[(n + 1) % len(WALLETS)]
            with pytest.raises(IdempotencyConflict):  # the key stays server-wide
                target.open_wallet(OpenWallet(wallet_id=other, idempotency_key=f"open-{wallet_id}"))
        again = target.ingest_usage(usage_batch("plain", bill=False)).body
        assert (again["accepted"], again["duplicates"]) == (0, len(WALLETS))
        assert target.price_book("default")["rates"][0]["model"] == "m"
        assert Alerting(target).webhook("hook")["url"] == "http://127.0.0.1:9/x"
        assert verify_key(target, facts["key"]) is not None
    finally:
        target.close()


def test_resharding_back_to_one_shard_round_trips(
    tmp_path: Path, clock: FakeClock, source: tuple[CreditLedger, dict[str, Any]]
) -> None:
    old, _ = source
    before = snapshot(old)
    middle = make_ledger(url(tmp_path, "middle"), clock=clock, env={"SHARDS": "3"})
    back = make_ledger(url(tmp_path, "back"), clock=clock)
    try:
        reshard(old, middle)
        reshard(middle, back)
        assert len(back.shards) == 1
        assert snapshot(back) == before
    finally:
        middle.close()
        back.close()


def test_resharding_refuses_a_target_that_holds_events(
    tmp_path: Path, clock: FakeClock, source: tuple[CreditLedger, dict[str, Any]]
) -> None:
    old, _ = source
    target = make_ledger(url(tmp_path, "target"), clock=clock, env={"SHARDS": "2"})
    try:
        target.open_wallet(OpenWallet(wallet_id="already-here"))
        with pytest.raises(TargetNotEmpty):
            reshard(old, target)
    finally:
        target.close()


def test_the_reshard_command_copies_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source_url = url(tmp_path, "cli-source")
    app = make_ledger(source_url)
    try:
        app.open_wallet(OpenWallet(wallet_id="acme"))
    finally:
        app.close()
    monkeypatch.setenv("LEDGER_DATABASE_URL", source_url)
    target_url = url(tmp_path, "cli-target")
    assert main(["reshard", "--to", target_url, "--shards", "2"]) == 0
    assert '"events": 1' in capsys.readouterr().out
    assert main(["reshard", "--to", target_url, "--shards", "2"]) == 2
    assert "already holds events" in capsys.readouterr().err
    copied = make_ledger(target_url)
    try:
        assert len(copied.shards) == 2
        assert copied.wallet("acme")["wallet_id"] == "acme"
    finally:
        copied.close()


def test_a_copy_during_which_the_source_moved_fails(
    tmp_path: Path,
    clock: FakeClock,
    source: tuple[CreditLedger, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, _ = source
    real_copy = reshard_module._copy_page
    written: list[bool] = []

    def copy_while_a_writer_writes(*args: Any) -> None:
        if not written:  # a writer that was not stopped
            old.open_wallet(OpenWallet(wallet_id="late"))
            written.append(True)
        real_copy(*args)

    monkeypatch.setattr(reshard_module, "_copy_page", copy_while_a_writer_writes)
    target = make_ledger(url(tmp_path, "target"), clock=clock, env={"SHARDS": "2"})
    try:
        with pytest.raises(SourceChanged):
            reshard(old, target)
    finally:
        target.close()


def test_an_unknown_topic_stops_the_copy(tmp_path: Path, clock: FakeClock) -> None:
    old = make_ledger(url(tmp_path, "odd"), clock=clock)
    target = make_ledger(url(tmp_path, "target"), clock=clock, env={"SHARDS": "2"})
    try:
        old.recorder.insert_events(
            [StoredEvent(originator_id=uuid4(), originator_version=1, topic="x:Y", state=b"{}")]
        )
        with pytest.raises(ValueError, match="does not know where 'x:Y' belongs"):
            reshard(old, target)
    finally:
        old.close()
        target.close()
