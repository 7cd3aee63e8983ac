"""The rest of contract 1.1 through the client, against a real server (SQLite and
Postgres): the server-wide lists (API keys, webhooks, meters, price books) page by page,
``whoami``, allowances and the usage CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from credit_ledger import (
    AllowanceNotFound,
    ApiKeyInfo,
    Forbidden,
    Ledger,
    Meter,
    PriceBook,
    ValidationFailed,
    Webhook,
)

from tests.client.live import RATES, CountingTransport
from tests.support.live_server import TEST_ADMIN_KEY, LiveServer


def test_api_keys_are_listed_without_their_secrets(server: LiveServer, admin: Ledger) -> None:
    issued = [admin.create_api_key(["service"], name=f"backend {n}") for n in range(3)]
    admin.revoke_api_key(issued[1].key_id)
    seen = admin.last_position

    first = admin.list_api_keys(limit=2, min_position=seen)
    network = CountingTransport()
    with Ledger(server.url, TEST_ADMIN_KEY, transport=network) as counted:
        every = list(counted.iter_api_keys(limit=1, min_position=seen))

    assert [k.key_id for k in first.items] == [k.key_id for k in issued[:2]]
    assert first.next_after is not None
    assert all(isinstance(k, ApiKeyInfo) for k in every)
    assert [(k.key_id, k.name, k.scopes) for k in every] == [
        (k.key_id, k.name, ["service"]) for k in issued
    ]
    assert [k.revoked_at is not None for k in every] == [False, True, False]
    assert network.counts["GET", "/v1/api-keys"] == 3


def test_webhooks_meters_and_price_books_are_listed_page_by_page(admin: Ledger) -> None:
    for name in ("ops", "gone", "billing"):
        admin.put_webhook(
            name, url=f"http://127.0.0.1:9/{name}", secret="s" * 32, events=["hold.expired"]
        )
    admin.delete_webhook("gone")
    for name in ("tokens", "calls"):
        admin.put_meter(name, event_type="llm.completion", aggregation="count")
    admin.put_price_book("default", [RATES])
    admin.put_price_book("premium", [{**RATES, "input_per_million": 4000}], unit="credits")
    admin.put_price_book("default", [{**RATES, "output_per_million": 9000}])
    seen = admin.last_position

    webhooks = list(admin.iter_webhooks(limit=1, min_position=seen))
    meters = admin.list_meters(limit=1, min_position=seen)
    more_meters = admin.list_meters(after=meters.next_after, limit=1)
    books = list(admin.iter_price_books(limit=1, min_position=seen))

    assert all(isinstance(w, Webhook) for w in webhooks)
    assert [(w.webhook_id, w.url, w.secret_set) for w in webhooks] == [
        ("ops", "http://127.0.0.1:9/ops", True),
        ("billing", "http://127.0.0.1:9/billing", True),
    ]
    assert isinstance(meters.items[0], Meter)
    assert [m.meter_id for m in meters.items + more_meters.items] == ["tokens", "calls"]
    assert more_meters.next_after is None
    assert all(isinstance(b, PriceBook) for b in books)
    assert [(b.price_book_id, b.version, b.latest_version) for b in books] == [
        ("default", 2, 2),
        ("premium", 1, 1),
    ]
    assert books[0].rates[0].output_per_million == 9000


def test_price_books_are_listed_for_auditors_but_not_for_service_keys(
    server: LiveServer, admin: Ledger
) -> None:
    admin.put_price_book("default", [RATES])
    auditor = admin.create_api_key(["auditor"], name="finance")
    service = admin.create_api_key(["service"], name="backend")
    seen = admin.last_position

    with Ledger(server.url, auditor.key) as finance, Ledger(server.url, service.key) as backend:
        listed = finance.list_price_books(min_position=seen)
        with pytest.raises(Forbidden):
            backend.list_price_books()

    assert [b.price_book_id for b in listed.items] == ["default"]


def test_whoami_names_the_calling_key(server: LiveServer, admin: Ledger) -> None:
    issued = admin.create_api_key(["service", "auditor"], name="backend")

    with Ledger(server.url, issued.key) as backend:
        me = backend.whoami()

    assert (me.key_id, me.name, me.scopes) == (issued.key_id, "backend", ["auditor", "service"])
    bootstrap = admin.whoami()
    assert (bootstrap.key_id, bootstrap.scopes) == ("bootstrap", ["admin"])


def test_allowances_are_put_read_listed_and_deleted(admin: Ledger) -> None:
    admin.open_wallet("acme")
    now = datetime.now(UTC)
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)

    made = admin.put_allowance(
        "acme", "monthly", amount=1000, period="month", starts_at=month, rollover_max_amount=500
    )
    changed = admin.put_allowance("acme", "monthly", amount=2000, period="month", rollover=True)
    read = admin.get_allowance("acme", "monthly")
    listed = admin.list_allowances("acme")
    granted = [g for g in admin.get_wallet("acme").grants if g.grant_id.startswith("monthly:")]
    admin.delete_allowance("acme", "monthly")

    assert (made.allowance_id, made.amount, made.category, made.period) == (
        "monthly",
        1000,
        "promotional",
        "month",
    )
    assert (made.starts_at, made.next_grant_at, made.rollover) == (
        month,
        following,
        {"max_amount": 500},
    )
    assert (changed.amount, changed.rollover, changed.starts_at) == (
        2000,
        {"max_amount": None},
        month,
    )
    assert read == changed
    assert listed == [changed]
    assert [(g.amount, g.category, g.effective_at) for g in granted] == [
        (1000, "promotional", month)
    ]
    with pytest.raises(AllowanceNotFound) as gone:
        admin.get_allowance("acme", "monthly")
    assert (gone.value.status, gone.value.problem["code"]) == (404, "allowance_not_found")
    assert admin.list_allowances("acme") == []
    with pytest.raises(ValidationFailed) as invalid:
        admin.put_allowance("acme", "daily", amount=5, period="day", timezone="Mars/Olympus")
    assert [e.field for e in invalid.value.errors] == ["timezone"]


def test_usage_is_exported_as_csv(admin: Ledger) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 1000, "paid")
    for amount, model in ((30, "m1"), (5, "m2"), (7, "m1")):
        admin.debit("acme", amount, subject={"model": model})
    seen = admin.last_position

    exported = admin.usage_csv("acme", group_by=["model"], min_position=seen)
    series = admin.get_usage("acme", group_by=["model"], min_position=seen)

    rows = list(csv.DictReader(io.StringIO(exported)))
    assert exported.splitlines()[0] == "window_start,model,debited,count"
    assert sorted((r["model"], int(r["debited"]), int(r["count"])) for r in rows) == [
        ("m1", 37, 2),
        ("m2", 5, 1),
    ]
    assert sorted((p.group["model"], p.debited, p.count) for p in series) == sorted(
        (r["model"], int(r["debited"]), int(r["count"])) for r in rows
    )
