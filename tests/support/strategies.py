"""Hypothesis strategies shared by the projection property tests (in memory and on Postgres)."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.support.projections import (
    ADVANCES,
    ALLOWANCE_PERIODS,
    CATEGORIES,
    PERIODS,
    ROLLOVERS,
    SCOPES,
    SUBJECTS,
    ZONES,
    Op,
)

__all__ = ["FUNDING", "category", "expires", "ops", "pick", "subject", "wallet"]


FUNDING: list[Op] = [("grant", 0, 1500, 0, None), ("grant", 1, 400, 1, 30)]


wallet = st.integers(0, 1)


pick = st.integers(0, 7)


subject = st.integers(0, len(SUBJECTS) - 1)


category = st.integers(0, len(CATEGORIES) - 1)


expires = st.sampled_from([None, 2, 30])


ops: st.SearchStrategy[Op] = st.one_of(
    st.tuples(st.just("grant"), wallet, st.integers(1, 2000), category, expires),
    st.tuples(st.just("debit"), wallet, st.integers(1, 400), subject, st.sampled_from([0, 90])),
    st.tuples(st.just("hold"), wallet, st.integers(1, 400), subject, st.sampled_from([5, 60])),
    st.tuples(st.just("capture"), wallet, pick, st.sampled_from([None, 1, 600]), st.booleans()),
    st.tuples(st.just("release"), wallet, pick),
    st.tuples(st.just("refund"), wallet, pick, st.sampled_from([None, 1, 25])),
    st.tuples(
        st.just("budget"),
        wallet,
        st.integers(0, 1),
        st.integers(0, len(SCOPES) - 1),
        st.integers(0, 900),
        st.integers(0, len(PERIODS) - 1),
        st.integers(0, len(ZONES) - 1),
        st.integers(0, 1),
    ),
    st.tuples(st.just("unbudget"), wallet, st.integers(0, 1)),
    st.tuples(
        st.just("allowance"),
        wallet,
        st.integers(0, 1),
        st.integers(1, 500),
        st.integers(0, len(ALLOWANCE_PERIODS) - 1),
        st.integers(0, len(ZONES) - 1),
        st.integers(0, len(ROLLOVERS) - 1),
    ),
    st.tuples(st.just("unallow"), wallet, st.integers(0, 1)),
    st.tuples(st.just("void"), wallet, pick),
    st.tuples(st.just("advance"), st.integers(0, len(ADVANCES) - 1)),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("project"), st.integers(1, 4)),
)
