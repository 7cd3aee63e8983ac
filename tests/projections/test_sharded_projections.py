"""The read models over a sharded ledger: every shard's log is projected, each tracked on
its own, and the views hold what an unsharded ledger given the same commands would show.

The scenario helpers here are shared with the Postgres tests
(``tests/integration/test_sharded_projections_postgres.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.read_models import ProjectionLagging, ReadModels
from ledger.app import audit
from ledger.app.alerting import Alerting, PutAlertSettings, PutWebhook
from ledger.app.commands import (
    Debit,
    GrantCredits,
    OpenWallet,
)
from ledger.app.service import CreditLedger
from ledger.app.shards import decode_position, encode_position, shard_of
from projections import queries
from projections.catalog import BALANCES, JOURNAL, PROJECTIONS
from projections.engine import meta
from projections.engine.connect import open_views
from projections.engine.store import ViewStore
from projections.positions import live_positions, live_shard_positions, wait_for_position
from projections.rebuild import rebuild
from projections.reconcile import reconcile_views
from projections.runner import ProjectionRunner
from projections.status import projection_status
from tests.support.api import assert_problem, running_api
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import snapshot
from tests.support.shards import (
    FAR,
    SHARDS,
    assert_same_views,
    populate,
    wallet_in,
)


def _store_url(tmp_path: Path, kind: str) -> str:
    return "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


# ``clock`` and ``views``: tests/support/fixtures.py.
@pytest.fixture(params=["memory", "sqlite"])
def ledger(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[CreditLedger]:
    app = make_ledger(_store_url(tmp_path, request.param), clock, {"SHARDS": str(SHARDS)})
    yield app
    app.close()


@pytest.fixture
def populated(ledger: CreditLedger, clock: FakeClock) -> dict[str, int]:
    return populate(ledger, clock)


def test_sharded_views_equal_those_of_an_unsharded_ledger(
    ledger: CreditLedger, views: ViewStore, clock: FakeClock
) -> None:
    # Given the same commands on a sharded and on an unsharded ledger, each on its own
    # clock from the same start
    plain_clock = FakeClock(clock.now)
    populate(ledger, clock)
    plain = make_ledger(clock=plain_clock)
    plain_views = open_views(plain.env)
    try:
        populate(plain, plain_clock)
        # When both are projected
        ProjectionRunner(ledger, views).catch_up()
        ProjectionRunner(plain, plain_views).catch_up()
        # Then balances, usage, budgets and the journal (but for positions) are equal
        assert_same_views(views, plain_views)
    finally:
        plain_views.close()
        plain.close()
    # and the views reconcile with every shard's log, with a balanced trial balance
    assert reconcile_views(ledger, views) == []
    assert queries.trial_balance(views, as_of=ledger.now())["balanced"] is True


def test_the_views_journal_pages_as_the_sharded_log_scan_does(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    ProjectionRunner(ledger, views).catch_up()
    assert queries.journal(views, limit=FAR) == audit.journal(ledger, limit=FAR)
    # Paging goes shard after shard: a page after a shard-1 position holds no shard-0 row
    after = populated[wallet_in(1)]
    page = queries.journal(views, after=after, limit=5)
    assert page == audit.journal(ledger, after=after, limit=5)
    assert page["entries"]
    assert all(decode_position(row["position"])[0] >= 1 for row in page["entries"])
    # and balances as of past times (whole days from the daily view, the rest of the day
    # from the journal cut at what the balances applied in each shard) match the log scan
    times = sorted({row["occurred_at"] for row in audit.journal(ledger, limit=FAR)["entries"]})
    for as_of in [*times[1::7], times[-1] - timedelta(microseconds=1), ledger.now()]:
        expected = audit.trial_balance(ledger, as_of=as_of)
        assert queries.trial_balance(views, as_of=as_of) == expected, as_of


def test_journal_positions_are_unique_and_name_the_wallets_shard(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    ProjectionRunner(ledger, views).catch_up()
    rows = queries.journal(views, limit=FAR)["entries"]
    # One position per event (its legs share it), never shared by two events
    events = {(row["position"], row["transaction_id"]) for row in rows}
    assert len({position for position, _ in events}) == len(events)
    assert len({transaction for _, transaction in events}) == len(events)
    for row in rows:
        assert decode_position(row["position"])[0] == shard_of(row["wallet_id"], SHARDS)
    assert {decode_position(p)[0] for p, _ in events} == set(range(SHARDS))


def test_waiting_for_a_position_of_another_shard_waits_for_that_shard(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    # Given a position of shard 1, which no runner has applied yet
    position = populated[wallet_in(1)]
    assert decode_position(position)[0] == 1
    runner = ProjectionRunner(ledger, views)
    runner.install()
    assert not wait_for_position(views, position, timeout=0)
    assert not runner.wait_for(position, timeout=0)
    # When the runner catches up
    runner.catch_up()
    # Then both ways of waiting see it reached, and a later id of shard 1 is not
    assert wait_for_position(views, position, timeout=0)
    assert wait_for_position(views, position, timeout=0, names=[JOURNAL.name])
    assert runner.wait_for(position, timeout=0)
    assert not wait_for_position(views, position + 1_000, timeout=0)


def test_each_step_moves_every_shard_so_none_starves(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    runner = ProjectionRunner(ledger, views, batch_size=2)
    consumed = runner.step()
    assert consumed == 2 * SHARDS
    for by_shard in live_shard_positions(views).values():
        assert sorted(by_shard) == list(range(SHARDS))
        assert all(position > 0 for position in by_shard.values())


def test_the_status_sums_the_shards(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    heads = [shard.recorder.max_notification_id() or 0 for shard in ledger.shards]
    assert all(heads)
    runner = ProjectionRunner(ledger, views, batch_size=3)
    runner.install()
    runner.step()  # three notifications of each shard
    for entry in projection_status(ledger, views):
        assert entry["head"] == sum(heads)
        assert entry["position"] == 3 * SHARDS
        assert entry["lag"] == sum(heads) - 3 * SHARDS
        assert entry["lag_seconds"] >= 0
    runner.catch_up()
    for entry in projection_status(ledger, views):
        assert (entry["position"], entry["lag"], entry["lag_seconds"]) == (sum(heads), 0, 0.0)
    assert live_positions(views) == dict.fromkeys(PROJECTIONS, sum(heads))


def test_a_rebuild_builds_every_shard_before_switching(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    ProjectionRunner(ledger, views).catch_up()
    before = snapshot(views)
    report = rebuild(ledger, views, list(PROJECTIONS), drop_grace=0)
    assert report.notifications == sum(s.recorder.max_notification_id() or 0 for s in ledger.shards)
    assert snapshot(views) == before
    with views.read() as tx:
        tracking = meta.read_tracking(tx)
        generations = meta.read_generations(tx)
    for name in PROJECTIONS:
        live = generations[name].live
        assert sorted(meta.shard_positions(tracking, name, live)) == list(range(SHARDS))
        # the old generation's rows went with its tables
        assert meta.shard_positions(tracking, name, report.previous[name]) == {}
    assert reconcile_views(ledger, views) == []


def test_reconcile_finds_a_difference_in_any_shard(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    ProjectionRunner(ledger, views).catch_up()
    assert reconcile_views(ledger, views) == []
    with views.write() as tx:
        tx.execute(
            # debit and credit swapped: the units still balance, only the rows differ
            "UPDATE journal_g1 SET credit = debit, debit = credit WHERE position > ?",
            (encode_position(2, 0),),
        )
    assert any("journal row" in line for line in reconcile_views(ledger, views))


def test_a_shard_wound_back_is_applied_twice_and_reported(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    ProjectionRunner(ledger, views).catch_up()
    with views.write() as tx:
        tx.execute("UPDATE projection_tracking SET position = 0 WHERE name = 'balances#1'")
    ProjectionRunner(ledger, views, [BALANCES]).catch_up()
    differences = reconcile_views(ledger, views)
    assert any("balances.balances" in line for line in differences)


def test_alerts_follow_webhooks_of_the_home_shard_and_settings_of_the_wallets(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given a webhook (kept in shard 0) and a low-balance threshold on a wallet of shard 2
    wallet_id = wallet_in(2)
    ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
    ledger.grant(GrantCredits(wallet_id=wallet_id, amount=1000, category="paid"))
    alerting = Alerting(ledger)
    alerting.put_webhook(
        PutWebhook(
            webhook_id="hook",
            url="http://127.0.0.1:9/hook",
            secret="a-secret-of-twenty-chars",  # noqa: S106 - a test secret
            events=["wallet.balance_low"],
        )
    )
    alerting.put_alert_settings(PutAlertSettings(wallet_id=wallet_id, balance_low_threshold=500))
    runner = ProjectionRunner(ledger, views)
    runner.catch_up()
    # When the wallet falls below it
    outcome = ledger.debit(Debit(wallet_id=wallet_id, amount=700))
    runner.catch_up()
    # Then one alert is in the outbox, named by the debit event's (shard 2) position
    with views.read() as tx:
        table = tx.dialect.table("alert_outbox")
        ids = [row[0] for row in tx.all(f"SELECT alert_id FROM {table}")]  # noqa: S608
    assert len(ids) == 1
    kind, owner, position = ids[0].rsplit(":", 2)
    assert (kind, owner) == ("wallet.balance_low", wallet_id)
    assert outcome.position is not None
    assert decode_position(int(position))[0] == decode_position(outcome.position)[0] == 2
    assert int(position) <= outcome.position


def test_api_reads_wait_for_a_position_of_any_shard() -> None:
    clock = FakeClock()
    sharded = make_ledger(clock=clock, env={"SHARDS": str(SHARDS)})
    try:
        with running_api(sharded, clock, projection_wait_seconds=1) as api:
            # Given a debit on a wallet of shard 2, projected by the in-process worker
            wallet_id = wallet_in(2)
            api.funded_wallet(wallet_id, 100)
            written = api.post(f"/v1/wallets/{wallet_id}/debits", {"amount": 7})
            position = int(written.headers["Ledger-Position"])
            assert decode_position(position)[0] == 2
            # Then a read at its position sees it
            journal = api.get(f"/v1/journal?wallet_id={wallet_id}&min_position={position}")
            assert journal.status_code == 200, journal.text
            assert [e["debit"] for e in journal.json()["entries"]][-2:] == [7, 0]
            # and a position this shard has not reached is lagging, told in that shard
            beyond = encode_position(2, decode_position(position)[1] + 50)
            with_wait = api.get(f"/v1/trial-balance?min_position={beyond}")
            body = assert_problem(with_wait, 503, "projection_lagging")
            assert decode_position(body["position"])[0] == 2
            assert body["position"] >= position
            assert body["required"] == beyond
    finally:
        sharded.close()


def test_usage_events_of_every_shard_reach_the_meters() -> None:
    clock = FakeClock()
    sharded = make_ledger(clock=clock, env={"SHARDS": str(SHARDS)})
    try:
        with running_api(sharded, clock) as api:
            # Given usage events for a wallet of each shard, in one request
            wallets = [wallet_in(shard) for shard in range(SHARDS)]
            for wallet_id in wallets:
                api.funded_wallet(wallet_id, 100)
            events: list[dict[str, Any]] = [
                {
                    "event_id": f"e{n}",
                    "wallet_id": wallet_id,
                    "type": "llm.completion",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "subject": {"user_id": "u1"},
                    "quantities": {"input_tokens": 3},
                }
                for n in range(2)
                for wallet_id in wallets
            ]
            response = api.post("/v1/usage-events", {"events": events})
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == len(events)
            # When the views have applied every shard's log
            views = api.read_models.views
            for shard in sharded.shards:
                head = shard.recorder.max_notification_id() or 0
                assert wait_for_position(views, encode_position(shard.shard_index, head), 10)
            # Then each event is one meters fact, at a position of its wallet's shard
            with views.read() as tx:
                facts = tx.all("SELECT position, wallet_id FROM meters_g1")
            assert sorted(w for _, w in facts) == sorted(e["wallet_id"] for e in events)
            for position, wallet_id in facts:
                assert decode_position(position)[0] == shard_of(wallet_id, SHARDS)
            assert reconcile_views(sharded, views) == []
    finally:
        sharded.close()


def test_a_read_at_a_later_write_of_another_shard_waits_for_earlier_writes(
    ledger: CreditLedger, views: ViewStore, populated: dict[str, int]
) -> None:
    # Given the views at the head, then a debit in shard 1 and, after it, one in shard 0
    runner = ProjectionRunner(ledger, views)
    runner.catch_up()
    ledger.debit(Debit(wallet_id=wallet_in(1), amount=1))
    later = ledger.debit(Debit(wallet_id=wallet_in(0), amount=1)).position
    assert later is not None
    assert decode_position(later)[0] == 0
    # and the views applied shard 0's log but not yet shard 1's
    runner._step_shard(0, runner.shard_targets()[0])
    assert wait_for_position(views, later, timeout=0)
    read_models = ReadModels(ledger, views, in_process=False, wait_seconds=0)
    # Then a read at the later position is not answered without the earlier write
    with pytest.raises(ProjectionLagging):
        read_models.wait_for(later, [JOURNAL.name])
    runner.catch_up()
    read_models.wait_for(later, [JOURNAL.name])
