"""Reconciliation finds any view row that differs from a replay of the log."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from ledger.app.service import CreditLedger
from projections import ProjectionRunner, open_views, reconcile_views
from projections.catalog import BALANCES
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import random_ops, run_history


@pytest.fixture
def ledger() -> Iterator[CreditLedger]:
    clock = FakeClock()
    app = make_ledger(clock=clock)
    run_history(app, clock, random_ops(random.Random(11), 80))
    yield app
    app.close()


@pytest.fixture
def views(ledger: CreditLedger) -> Iterator[ViewStore]:
    store = open_views(ledger.env)
    ProjectionRunner(ledger, store, batch_size=7).catch_up()
    yield store
    store.close()


def _tamper(views: ViewStore, sql: str) -> None:
    with views.write() as tx:
        assert tx.execute(sql) >= 1


def test_untouched_views_reconcile_clean(ledger: CreditLedger, views: ViewStore) -> None:
    assert reconcile_views(ledger, views) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE journal_g1 SET debit = debit + 1"
            " WHERE position = (SELECT MAX(position) FROM journal_g1) AND debit > 0",
            "journal row",
        ),
        (
            "DELETE FROM journal_g1 WHERE position = (SELECT MIN(position) FROM journal_g1)",
            "journal row",
        ),
        (
            "INSERT INTO journal_g1 SELECT position + 1000000, leg, transaction_id, wallet_id,"
            " account, debit, credit, unit, occurred_at, recorded_at, event_version, event_type,"
            " idempotency_key FROM journal_g1 WHERE position = (SELECT MIN(position) FROM"
            " journal_g1)",
            "beyond its position",
        ),
        (
            "UPDATE balances_g1 SET credit_total = credit_total + 5"
            " WHERE account = 'platform:credits:consumed'",
            "trial balance of credits",
        ),
        ("UPDATE balances_days_g1 SET debit = debit * 2", "balances.days"),
        ("DELETE FROM usage_g1 WHERE debited = (SELECT MAX(debited) FROM usage_g1)", "usage.usage"),
        ("UPDATE budget_status_periods_g1 SET spent = spent + 1", "budget_status.periods"),
        ("UPDATE budget_status_g1 SET limit_amount = limit_amount + 1", "budget_status.budgets"),
        ("UPDATE projection_tracking SET last_event = last_event - 1", "last event"),
    ],
)
def test_a_tampered_view_row_is_reported(
    ledger: CreditLedger, views: ViewStore, sql: str, expected: str
) -> None:
    # Given a view row changed behind the projections' back
    _tamper(views, sql)
    # Then reconciliation names the difference
    differences = reconcile_views(ledger, views)
    assert differences
    assert any(expected in line for line in differences), differences


def test_a_batch_applied_twice_is_reported(ledger: CreditLedger, views: ViewStore) -> None:
    # Given the balances' tracking position wound back, so a runner applies events again
    _tamper(views, "UPDATE projection_tracking SET position = 0 WHERE name = 'balances'")
    ProjectionRunner(ledger, views, [BALANCES]).catch_up()
    # Then each side of the trial balance is still equal, but the totals are doubled
    differences = reconcile_views(ledger, views)
    assert any("balances.balances" in line for line in differences)
    assert not any("trial balance" in line for line in differences)


def test_the_number_of_differences_is_capped(ledger: CreditLedger, views: ViewStore) -> None:
    _tamper(views, "UPDATE journal_g1 SET credit = credit + 1")
    differences = reconcile_views(ledger, views, max_differences=3)
    assert len(differences) == 4
    assert differences[-1].startswith("... and ")
