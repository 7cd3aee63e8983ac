"""Contract 1.1 reads and allowances, against the fake ledger: what the client sends and
decodes. The same against a real server: test_live_lists.py and test_live_1_1.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from credit_ledger import Allowance, DebitDetail, Hold, HoldNotOpen, Ledger, Page, WalletSummary

from tests.client.fakes import FakeLedger


def test_wallets_are_listed_page_by_page(ledger: Ledger, fake: FakeLedger) -> None:
    ledger.debit("acme", 10)
    ledger.debit("beta", 20)

    page = ledger.list_wallets(customer_id="acme", after="c1", limit=50)

    request = fake.sent("/v1/wallets", "GET")[0]
    assert request.query == {"customer_id": "acme", "after": "c1", "limit": "50"}
    assert request.headers["authorization"] == "Bearer test-key-0123456789abcdef0123456789"
    assert isinstance(page, Page)
    assert all(isinstance(w, WalletSummary) for w in page.items)
    assert [(w.wallet_id, w.balance.available) for w in page.items] == [
        ("acme", 990),
        ("beta", 980),
    ]
    assert page.next_after is None


def test_debits_and_holds_are_listed_and_a_debit_is_read(ledger: Ledger, fake: FakeLedger) -> None:
    made = ledger.debit("acme", 10, subject={"user_id": "u1"})
    with ledger.hold("acme", 5):
        pass

    debits = ledger.list_debits("acme")
    holds = ledger.list_holds("acme", status="released", limit=10)
    detail = ledger.get_debit("acme", made.debit_id)

    assert [d.debit_id for d in debits.items] == [made.debit_id]
    assert debits.items[0].subject == {"user_id": "u1"}
    assert all(isinstance(h, Hold) for h in holds.items)
    assert fake.sent("/v1/wallets/acme/holds", "GET")[0].query == {
        "status": "released",
        "limit": "10",
    }
    assert isinstance(detail, DebitDetail)
    assert (detail.amount, detail.refunded, detail.refunds) == (10, 0, [])


def test_allowances_are_put_read_listed_and_deleted(ledger: Ledger, fake: FakeLedger) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    allowance = ledger.put_allowance(
        "acme",
        "monthly",
        amount=1000,
        category="promotional",
        period="month",
        timezone="Europe/Berlin",
        starts_at=start,
        rollover_max_amount=500,
    )
    listed = ledger.list_allowances("acme")
    ledger.delete_allowance("acme", "monthly")

    put = fake.sent("/v1/wallets/acme/allowances/monthly", "PUT")[0]
    assert put.body == {
        "amount": 1000,
        "category": "promotional",
        "period": "month",
        "timezone": "Europe/Berlin",
        "starts_at": "2026-01-01T00:00:00Z",
        "rollover": {"max_amount": 500},
    }
    assert put.key is not None
    assert isinstance(allowance, Allowance)
    assert allowance.next_grant_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert allowance.rollover == {"max_amount": 500}
    assert listed == []
    assert fake.sent("/v1/wallets/acme/allowances/monthly", "DELETE")[0].key is not None


def test_usage_is_exported_as_csv(ledger: Ledger, fake: FakeLedger) -> None:
    csv = ledger.usage_csv("acme", window="day", group_by=["model"], min_position=3)

    request = fake.sent("/v1/wallets/acme/usage")[0]
    assert request.headers["accept"] == "text/csv"
    assert request.query == {"window": "day", "group_by": "model", "min_position": "3"}
    assert csv.splitlines()[0] == "window_start,model,debited,count"


def test_the_admin_lists_decode_as_pages(ledger: Ledger, fake: FakeLedger) -> None:
    assert ledger.list_api_keys(limit=5) == Page([], None)
    assert ledger.list_webhooks(after=3) == Page([], None)
    assert ledger.list_meters(min_position=2) == Page([], None)
    assert ledger.list_price_books() == Page([], None)
    assert [r.query for r in fake.requests] == [
        {"limit": "5"},
        {"after": "3"},
        {"min_position": "2"},
        {},
    ]


def test_a_closed_hold_is_named_by_hold_status_in_the_1_1_problem(
    ledger: Ledger, fake: FakeLedger
) -> None:
    with ledger.hold("acme", 5) as released:
        pass

    with pytest.raises(HoldNotOpen) as not_open:
        ledger.capture_hold("acme", released.hold_id or "")

    problem = not_open.value.problem
    assert (problem["status"], problem["hold_status"]) == (409, "released")
    assert (not_open.value.status, not_open.value.hold_status) == (409, "released")
    assert fake.holds[released.hold_id or ""]["status"] == "released"
