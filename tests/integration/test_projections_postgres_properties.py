"""Hypothesis-generated histories on a real PostgreSQL: catch-up == rebuild == fold of the log.

The same property as tests/property/test_projection_properties.py, run against Postgres views
(psycopg, same database as the events), each example in a fresh schema.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from ledger.app.service import CreditLedger
from projections import ProjectionRunner, open_views, reconcile_views
from projections.catalog import PROJECTIONS
from projections.rebuild import rebuild
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import Op, assert_views_match_audit, run_history, snapshot
from tests.support.strategies import FUNDING, ops


@contextmanager
def _fresh_schema(postgres_url: str) -> Iterator[str]:
    name = f"h_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _project_history(ledger: CreditLedger, clock: FakeClock, history: list[Op], batch: int) -> None:
    with_views = open_views(ledger.env)
    try:
        runner = ProjectionRunner(ledger, with_views, batch_size=batch)

        def project(steps: int) -> None:
            for _ in range(steps):
                runner.step()

        # Given a generated history, projected in generated batch sizes along the way
        run_history(ledger, clock, [*FUNDING, *history], project)
        runner.catch_up()
        incremental = snapshot(with_views)
        # Then a rebuild from zero gives the same views, which reconcile clean with the log
        rebuild(ledger, with_views, list(PROJECTIONS), drop_grace=0)
        assert snapshot(with_views) == incremental
        assert reconcile_views(ledger, with_views) == []
        # and answer every query as the log scan does
        assert_views_match_audit(ledger, with_views, random.Random(len(history)))
    finally:
        with_views.close()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(ops, min_size=15, max_size=50), batch=st.integers(1, 8))
def test_generated_histories_project_exactly_on_postgres(
    postgres_url: str, history: list[Op], batch: int
) -> None:
    with _fresh_schema(postgres_url) as url:
        clock = FakeClock()
        ledger = make_ledger(url, clock=clock)
        try:
            _project_history(ledger, clock, history, batch)
        finally:
            ledger.close()
