"""Consumption policy v1: the order in which a debit draws on a wallet's grants.

The table below is the policy's example table: each row grants credits (in the listed
order, all at T0 unless said otherwise), debits once, and states by hand which grants the
debit took and how much from each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold
from ledger.domain.consumption import POLICY_VERSION, consumption_key, usable_grants
from ledger.domain.state import Grant
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.wallets import events

FEB = at("2026-02-01T00:00")
MAR = at("2026-03-01T00:00")
Y2030 = at("2030-01-01T00:00")
YESTERDAY = T0 - timedelta(days=1)
TOMORROW = T0 + timedelta(days=1)
ONE_HOUR = T0 + timedelta(hours=1)


@dataclass(frozen=True)
class G:
    """One grant of a table row (defaults: 10 paid credits, priority 100, never expiring)."""

    grant_id: str
    amount: int = 10
    category: str = "paid"
    priority: int = 100
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    cost_basis: tuple[int, str] | None = None


ROWS = [
    pytest.param(
        [G("a"), G("b", priority=0)], 20, [("b", 10), ("a", 10)], T0, id="lower-priority-first"
    ),
    pytest.param(
        [G("a", priority=50), G("b", expires_at=FEB)],
        20,
        [("a", 10), ("b", 10)],
        T0,
        id="priority-beats-earlier-expiry",
    ),
    pytest.param(
        [G("a", expires_at=MAR), G("b", expires_at=FEB)],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="earlier-expires-at-first",
    ),
    pytest.param(
        [G("a"), G("b", expires_at=Y2030)], 20, [("b", 10), ("a", 10)], T0, id="never-expiring-last"
    ),
    pytest.param(
        [G("a"), G("b", category="promotional")],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="promotional-before-paid",
    ),
    pytest.param(
        [G("a"), G("b", category="trial")], 20, [("b", 10), ("a", 10)], T0, id="trial-before-paid"
    ),
    pytest.param(
        [G("a", cost_basis=(500, "USD")), G("b", cost_basis=(0, "USD"))],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="zero-cost-basis-before-paid",
    ),
    pytest.param(
        [G("a"), G("b", category="refund"), G("c", category="rollover"), G("d", category="trial")],
        40,
        [("d", 10), ("a", 10), ("b", 10), ("c", 10)],
        T0,
        id="refund-and-rollover-count-as-paid",
    ),
    pytest.param(
        [G("a", category="promotional", expires_at=MAR), G("b", expires_at=FEB)],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="earlier-expiry-beats-free",
    ),
    pytest.param(
        [G("a", category="promotional"), G("b", priority=1)],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="priority-beats-free",
    ),
    pytest.param(
        [G("a"), G("b", effective_at=YESTERDAY)],
        20,
        [("b", 10), ("a", 10)],
        T0,
        id="earlier-effective-at-first",
    ),
    pytest.param(
        [G("z"), G("a")], 20, [("z", 10), ("a", 10)], T0, id="earlier-creation-beats-grant-id"
    ),
    pytest.param(
        [G("a", priority=0, effective_at=TOMORROW), G("b")],
        10,
        [("b", 10)],
        T0,
        id="pending-grant-never-used",
    ),
    pytest.param(
        [G("a", priority=0, expires_at=ONE_HOUR), G("b")],
        10,
        [("b", 10)],
        ONE_HOUR,
        id="grant-expired-at-debit-time-never-used",
    ),
    pytest.param(
        [G("a", amount=30, priority=0), G("b", amount=50, priority=10), G("c", amount=100)],
        100,
        [("a", 30), ("b", 50), ("c", 20)],
        T0,
        id="allocation-spans-several-grants",
    ),
    pytest.param(
        [
            G("paid_late"),
            G("paid_early", effective_at=YESTERDAY),
            G("free_never", category="promotional"),
            G("paid_mar", expires_at=MAR),
            G("paid_feb", expires_at=FEB),
            G("free_feb", category="trial", expires_at=FEB),
            G("urgent", priority=0),
        ],
        70,
        [
            ("urgent", 10),
            ("free_feb", 10),
            ("paid_feb", 10),
            ("paid_mar", 10),
            ("free_never", 10),
            ("paid_early", 10),
            ("paid_late", 10),
        ],
        T0,
        id="every-rule-at-once",
    ),
]


@pytest.mark.parametrize(("grants", "amount", "expected", "debit_at"), ROWS)
def test_debit_allocates_in_policy_v1_order(
    grants: list[G], amount: int, expected: list[tuple[str, int]], debit_at: datetime
) -> None:
    # Given a wallet with the row's grants, granted at T0 in the listed order
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    ledger.open_wallet(OpenWallet(wallet_id="w"))
    for g in grants:
        ledger.grant(
            GrantCredits(
                wallet_id="w",
                grant_id=g.grant_id,
                amount=g.amount,
                category=g.category,
                priority=g.priority,
                effective_at=g.effective_at,
                expires_at=g.expires_at,
                cost_basis=g.cost_basis,
            )
        )
    clock.set(debit_at)

    # When one debit is made
    body = ledger.debit(Debit(wallet_id="w", amount=amount)).body

    # Then it drew on the grants in the expected order and amounts
    assert [(a["grant_id"], a["amount"]) for a in body["allocations"]] == expected


def test_debit_event_records_allocation_and_policy_version() -> None:
    # Given a wallet with a priority-0 grant of 30 and a default grant of 100
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="w"))
    ledger.grant(GrantCredits(wallet_id="w", grant_id="g2", amount=100, category="paid"))
    ledger.grant(GrantCredits(wallet_id="w", grant_id="g1", amount=30, category="paid", priority=0))

    # When 50 is debited
    ledger.debit(Debit(wallet_id="w", amount=50))

    # Then the event carries the decision itself: allocations and policy version 1
    data = events(ledger, "w")[-1]["data"]
    assert POLICY_VERSION == 1
    assert data["policy_version"] == 1
    assert data["allocations"] == [
        {"grant_id": "g1", "amount": 30},
        {"grant_id": "g2", "amount": 20},
    ]


def test_hold_pins_grants_in_the_same_order_as_a_debit() -> None:
    # Given a paid grant expiring in March and a trial grant expiring in February
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="w"))
    ledger.grant(
        GrantCredits(wallet_id="w", grant_id="p", amount=40, category="paid", expires_at=MAR)
    )
    ledger.grant(
        GrantCredits(wallet_id="w", grant_id="t", amount=40, category="trial", expires_at=FEB)
    )

    # When a hold of 50 is placed
    body = ledger.place_hold(PlaceHold(wallet_id="w", hold_id="h", amount=50)).body

    # Then it reserved the earlier-expiring grant first, then the rest from the other
    assert body["allocations"] == [{"grant_id": "t", "amount": 40}, {"grant_id": "p", "amount": 10}]
    assert events(ledger, "w")[-1]["data"]["policy_version"] == 1


def _grant(grant_id: str, *, granted_version: int = 2, remaining: int = 10) -> Grant:
    return Grant(
        grant_id=grant_id,
        category="paid",
        priority=100,
        amount=10,
        remaining=remaining,
        effective_at=T0,
        expires_at=None,
        granted_version=granted_version,
    )


def test_grant_id_breaks_a_tie_when_everything_else_is_equal() -> None:
    # Given two grants equal in every rule, even creation (a hand-built tie)
    b, a = _grant("b"), _grant("a")

    # When they are put in consumption order
    ordered = usable_grants([b, a], T0)

    # Then grant_id decides, so the key is total
    assert [g.grant_id for g in ordered] == ["a", "b"]
    assert consumption_key(a) < consumption_key(b)


def test_depleted_grants_are_not_usable() -> None:
    # Given a grant with nothing left and one with credits
    empty, full = _grant("a", remaining=0), _grant("b", granted_version=3)

    # When the usable grants are listed
    ordered = usable_grants([empty, full], T0)

    # Then only the one with credits is offered
    assert [g.grant_id for g in ordered] == ["b"]
