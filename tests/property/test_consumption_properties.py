"""Properties of consumption policy v1 (``ledger.domain.consumption``) over random sets of grants.

Grants are drawn from small domains (a few priorities, expiries, effective times, cost
bases) so that ties on the first rules are common and the later rules have to decide.
The reference order used here is written independently from the design's four rules
(see ``reference_before``); it never calls ``consumption_key``.
"""

from __future__ import annotations

import copy
import functools
import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.consumption import allocate, consumption_key, usable_grants
from ledger.domain.state import GRANT_CATEGORIES, Grant
from tests.support.builders import T0, at

# `at` of every allocation: grants are effective or expire on both sides of it.
NOW = T0 + timedelta(days=10)

_offsets = st.sampled_from([-3, -1, 0, 1, 2])  # days from NOW; 0 lands exactly on NOW


@st.composite
def grants(draw: st.DrawFn, *, max_size: int = 8) -> list[Grant]:
    """Distinct grants of one wallet: unique ``grant_id`` and ``granted_version``."""
    size = draw(st.integers(min_value=0, max_value=max_size))
    ids = draw(
        st.lists(
            st.text(alphabet="abcxyz019", min_size=1, max_size=3),
            min_size=size,
            max_size=size,
            unique=True,
        )
    )
    versions = draw(st.permutations(range(2, 2 + size)))
    result: list[Grant] = []
    for grant_id, version in zip(ids, versions, strict=True):
        effective_at = NOW + timedelta(days=draw(_offsets))
        expires_at: datetime | None = None
        if draw(st.booleans()):
            expires_at = effective_at + timedelta(days=draw(st.sampled_from([1, 2, 3, 5])))
        cost_basis = draw(st.sampled_from([None, 0, 1999]))
        amount = draw(st.integers(min_value=1, max_value=300))
        result.append(
            Grant(
                grant_id=grant_id,
                category=draw(st.sampled_from(sorted(GRANT_CATEGORIES))),
                priority=draw(st.sampled_from([0, 1, 100, 100, 500])),
                amount=amount,
                remaining=draw(st.integers(min_value=0, max_value=amount)),
                effective_at=effective_at,
                expires_at=expires_at,
                granted_version=version,
                cost_basis_minor=cost_basis,
                cost_basis_currency=None if cost_basis is None else "USD",
                expired=draw(st.booleans()) and draw(st.booleans()),
                voided=draw(st.booleans()) and draw(st.booleans()),
            )
        )
    return result


amounts = st.integers(min_value=1, max_value=1500)


# -- an independent statement of the design's rules -----------------------------------------


def reference_usable(grant: Grant, when: datetime) -> bool:
    """Design: active grants, ``effective_at <= at < expires_at``, with remaining > 0."""
    if grant.voided or grant.expired or grant.remaining <= 0:
        return False
    if grant.effective_at > when:
        return False
    return grant.expires_at is None or when < grant.expires_at


def reference_free(grant: Grant) -> bool:
    return grant.category in {"promotional", "trial"} or grant.cost_basis_minor == 0


def _compare(x: object, y: object) -> int:
    return -1 if x < y else (1 if x > y else 0)  # type: ignore[operator]


def _compare_expiry(x: datetime | None, y: datetime | None) -> int:
    """Earlier expiry first; a grant that never expires after every one that does."""
    if x is None or y is None:
        return _compare(x is None, y is None)
    return _compare(x, y)


def reference_before(a: Grant, b: Grant) -> int:
    """The four rules of design.md, one after the other (negative: ``a`` first)."""
    verdicts = (
        _compare(a.priority, b.priority),  # 1. lower priority first
        _compare_expiry(a.expires_at, b.expires_at),  # 2. earlier expires_at first
        _compare(not reference_free(a), not reference_free(b)),  # 3. free before paid
        _compare(a.effective_at, b.effective_at),  # 4. earlier effective_at,
        _compare(a.granted_version, b.granted_version),  # then earlier creation,
        _compare(a.grant_id, b.grant_id),  # then grant_id
    )
    return next((verdict for verdict in verdicts if verdict), 0)


def reference_order(pool: list[Grant], when: datetime) -> list[Grant]:
    usable = [g for g in pool if reference_usable(g, when)]
    return sorted(usable, key=functools.cmp_to_key(reference_before))


# -- properties -----------------------------------------------------------------------------


@given(grants(), amounts)
def test_allocate_takes_grants_exactly_in_key_order(pool: list[Grant], amount: int) -> None:
    by_id = {g.grant_id: g for g in pool}
    ordered = sorted((g for g in pool if g.is_usable(NOW)), key=consumption_key)
    allocations, shortfall = allocate(pool, amount, NOW)

    ids = [a["grant_id"] for a in allocations]
    # the allocations follow sorted order: a prefix of the usable grants in key order
    assert ids == [g.grant_id for g in ordered[: len(ids)]]
    # never uses a grant that is not usable at NOW
    assert all(by_id[i].is_usable(NOW) and reference_usable(by_id[i], NOW) for i in ids)
    # each allocation but the last drains its grant fully; the last takes at most what is left
    for allocation in allocations[:-1]:
        assert allocation["amount"] == by_id[allocation["grant_id"]].remaining
    if allocations:
        last = allocations[-1]
        assert 0 < last["amount"] <= by_id[last["grant_id"]].remaining
    # total allocated + shortfall == amount; a shortfall only when every usable grant is drained
    assert sum(a["amount"] for a in allocations) + shortfall == amount
    assert shortfall >= 0
    if shortfall:
        assert ids == [g.grant_id for g in ordered]
        assert all(a["amount"] == by_id[a["grant_id"]].remaining for a in allocations)


@given(grants(), amounts)
def test_allocate_matches_the_design_rules_written_independently(
    pool: list[Grant], amount: int
) -> None:
    expected: list[dict[str, object]] = []
    left = amount
    for grant in reference_order(pool, NOW):
        if left == 0:
            break
        take = min(left, grant.remaining)
        expected.append({"grant_id": grant.grant_id, "amount": take})
        left -= take
    assert allocate(pool, amount, NOW) == (expected, left)
    assert [g.grant_id for g in usable_grants(pool, NOW)] == [
        g.grant_id for g in reference_order(pool, NOW)
    ]


@given(grants(), amounts, st.randoms(use_true_random=False))
def test_allocate_ignores_input_order_and_never_mutates(
    pool: list[Grant], amount: int, rng: random.Random
) -> None:
    before = copy.deepcopy(pool)
    shuffled = list(pool)
    rng.shuffle(shuffled)
    assert allocate(shuffled, amount, NOW) == allocate(pool, amount, NOW)
    assert pool == before


@given(grants(max_size=10))
def test_key_is_a_total_order(pool: list[Grant]) -> None:
    keys = [consumption_key(g) for g in pool]
    # distinct grants (unique grant_id within a wallet) never share a key
    assert len(set(keys)) == len(pool)
    # and the key agrees with the design's rules pairwise (antisymmetric, no ties)
    for a in pool:
        for b in pool:
            if a is b:
                continue
            assert (consumption_key(a) < consumption_key(b)) == (reference_before(a, b) < 0)


@given(grants(), amounts)
def test_lower_priority_value_is_always_drained_before_a_higher_one(
    pool: list[Grant], amount: int
) -> None:
    by_id = {g.grant_id: g for g in pool}
    allocations, _ = allocate(pool, amount, NOW)
    taken = {a["grant_id"]: a["amount"] for a in allocations}
    for used_id in taken:
        used = by_id[used_id]
        for other in pool:
            if other.priority < used.priority and other.is_usable(NOW):
                # every usable grant with a lower priority value was drained completely
                assert taken.get(other.grant_id) == other.remaining


@given(grants(), amounts)
def test_within_a_priority_earlier_expiry_then_free_credits_go_first(
    pool: list[Grant], amount: int
) -> None:
    by_id = {g.grant_id: g for g in pool}
    allocations, _ = allocate(pool, amount, NOW)
    taken = {a["grant_id"]: a["amount"] for a in allocations}
    for used_id in taken:
        used = by_id[used_id]
        for other in pool:
            if other.priority != used.priority or not other.is_usable(NOW):
                continue
            earlier = other.expires_at is not None and (
                used.expires_at is None or other.expires_at < used.expires_at
            )
            same_expiry_but_free = (
                other.expires_at == used.expires_at
                and reference_free(other)
                and not reference_free(used)
            )
            if earlier or same_expiry_but_free:
                assert taken.get(other.grant_id) == other.remaining


# -- the example table of the design ("an example table and a property test cover it") -----


def _grant(
    grant_id: str,
    *,
    priority: int = 100,
    expires: str | None = None,
    category: str = "paid",
    cost: int | None = None,
    effective: str = "2026-01-01T00:00",
    version: int = 2,
) -> Grant:
    return Grant(
        grant_id=grant_id,
        category=category,
        priority=priority,
        amount=10,
        remaining=10,
        effective_at=at(effective),
        expires_at=None if expires is None else at(expires),
        granted_version=version,
        cost_basis_minor=cost,
        cost_basis_currency=None if cost is None else "USD",
    )


@pytest.mark.parametrize(
    ("first", "second", "rule"),
    [
        (_grant("b", priority=0), _grant("a", priority=1, expires="2026-01-02"), "priority"),
        (_grant("b", expires="2026-01-02"), _grant("a", expires="2026-01-03"), "expiry"),
        (_grant("b", expires="2026-01-02"), _grant("a"), "never-expiring last"),
        (_grant("b", category="trial"), _grant("a"), "trial before paid"),
        (_grant("b", category="promotional"), _grant("a"), "promotional before paid"),
        (_grant("b", cost=0), _grant("a", cost=500), "zero cost basis before paid"),
        (
            _grant("b", effective="2025-12-01T00:00"),
            _grant("a", effective="2025-12-02T00:00"),
            "effective_at",
        ),
        (_grant("b", version=2), _grant("a", version=3), "creation"),
        (_grant("a"), _grant("b"), "grant_id"),
    ],
)
def test_example_table(first: Grant, second: Grant, rule: str) -> None:
    when = at("2026-01-01T12:00")
    assert consumption_key(first) < consumption_key(second), rule
    allocations, shortfall = allocate([second, first], 15, when)
    assert allocations == [
        {"grant_id": first.grant_id, "amount": 10},
        {"grant_id": second.grant_id, "amount": 5},
    ]
    assert shortfall == 0
