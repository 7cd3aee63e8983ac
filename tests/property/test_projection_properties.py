"""Properties of the projections over random ledger histories.

Whatever the history and however the log is cut into batches: views caught up
incrementally equal views rebuilt from zero (in a fresh store and as a new generation), both
reconcile clean against a fold of the log, every query equals the log-scanning
``ledger.app.audit`` answer, and the trial balance is zero at every position a batch ends on.
"""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from ledger.app.service import CreditLedger
from projections import ProjectionRunner, open_views, queries, reconcile_views
from projections.catalog import BALANCES, PROJECTIONS
from projections.engine.meta import read_generations
from projections.engine.store import SQLiteViews, ViewStore
from projections.rebuild import rebuild
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import (
    FAR_FUTURE,
    Op,
    assert_views_match_audit,
    run_history,
    snapshot,
)
from tests.support.strategies import FUNDING, ops


def _assert_balanced_now(views: ViewStore) -> None:
    """The trial balance is zero per unit at the position the views have reached."""
    with views.read() as tx:
        generation = read_generations(tx)["balances"].live
        totals = BALANCES.dump(tx, generation)["balances"]
    per_unit: dict[str, int] = defaultdict(int)
    for unit, debit, credit, _ in totals.values():
        per_unit[unit] += debit - credit
    assert set(per_unit.values()) <= {0}
    assert queries.trial_balance(views, as_of=FAR_FUTURE)["balanced"]


def _close(ledger: CreditLedger, *stores: ViewStore) -> None:
    for store in stores:
        store.close()
    ledger.close()


@given(
    history=st.lists(ops, min_size=20, max_size=80),
    batch_size=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_incremental_rebuilt_folded_and_scanned_answers_agree(
    history: list[Op], batch_size: int, seed: int
) -> None:
    clock = FakeClock()
    ledger = make_ledger(clock=clock)
    views = open_views(ledger.env)
    fresh = SQLiteViews(None)
    try:
        runner = ProjectionRunner(ledger, views, batch_size=batch_size)

        def project(steps: int) -> None:
            for _ in range(steps):
                if not runner.step():
                    return
                _assert_balanced_now(views)

        # Given a random history on funded wallets, projected in random batches along the way
        run_history(ledger, clock, [*FUNDING, *history], project)
        while runner.step():
            _assert_balanced_now(views)
        incremental = snapshot(views)
        # Then rebuilding from zero, in a fresh store or as new generations, gives the same
        ProjectionRunner(ledger, fresh).catch_up()
        assert snapshot(fresh) == incremental
        rebuild(ledger, views, list(PROJECTIONS), drop_grace=0)
        assert snapshot(views) == incremental
        # and both reconcile clean against the fold of the log
        assert reconcile_views(ledger, views) == []
        assert reconcile_views(ledger, fresh) == []
        # and every query answers as the log scan does
        assert_views_match_audit(ledger, views, random.Random(seed))
    finally:
        _close(ledger, views, fresh)
