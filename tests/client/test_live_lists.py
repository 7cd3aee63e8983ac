"""The wallet lists of contract 1.1 through the client, against a real server (SQLite and
Postgres): wallets (a customer key sees only its own), a wallet's debits and holds, one
debit with its refunds; each a page with ``next_after``, and ``iter_*`` walking every page
one request at a time.
"""

from __future__ import annotations

import asyncio

import pytest
from credit_ledger import (
    AsyncLedger,
    DebitDetail,
    DebitNotFound,
    DebitSummary,
    Hold,
    Ledger,
    Usage,
    WalletSummary,
)

from tests.client.live import RATES, AsyncCountingTransport, CountingTransport
from tests.support.live_server import TEST_ADMIN_KEY, LiveServer

WALLETS = {"a-1": "c1", "a-2": "c1", "b-1": "c2", "b-2": "c2", "c-1": "c1"}


def test_wallets_are_listed_page_by_page(server: LiveServer, admin: Ledger) -> None:
    for wallet_id, customer_id in WALLETS.items():
        admin.open_wallet(wallet_id, customer_id=customer_id)
    admin.grant("b-1", 70, "paid")
    seen = admin.last_position

    first = admin.list_wallets(limit=2, min_position=seen)
    second = admin.list_wallets(after=first.next_after, limit=2)
    network = CountingTransport()
    with Ledger(server.url, TEST_ADMIN_KEY, transport=network) as counted:
        every = list(counted.iter_wallets(limit=2, min_position=seen))

    assert [w.wallet_id for w in first.items] == ["a-1", "a-2"]
    assert first.next_after == "a-2"
    assert [w.wallet_id for w in second.items] == ["b-1", "b-2"]
    assert all(isinstance(w, WalletSummary) for w in every)
    assert [(w.wallet_id, w.customer_id) for w in every] == sorted(WALLETS.items())
    assert network.counts["GET", "/v1/wallets"] == 3
    by_id = {w.wallet_id: w for w in every}
    assert (by_id["b-1"].balance.available, by_id["a-1"].balance.available) == (70, 0)
    assert all(w.unit == "credits" and w.created_at is not None for w in every)
    only_c2 = admin.list_wallets(customer_id="c2", min_position=seen)
    assert [w.wallet_id for w in only_c2.items] == ["b-1", "b-2"]
    assert only_c2.next_after is None


def test_a_customer_key_lists_only_its_own_wallets(server: LiveServer, admin: Ledger) -> None:
    for wallet_id, customer_id in WALLETS.items():
        admin.open_wallet(wallet_id, customer_id=customer_id)
    seen = admin.last_position
    key = admin.create_api_key(["customer:c1"], name="c1 console")

    with Ledger(server.url, key.key) as customer:
        own = [w.wallet_id for w in customer.iter_wallets(limit=1, min_position=seen)]
        others = customer.list_wallets(customer_id="c2", min_position=seen)

    assert own == ["a-1", "a-2", "c-1"]
    assert (others.items, others.next_after) == ([], None)


def test_debits_are_listed_in_either_order_and_read_one_by_one(admin: Ledger) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 1000, "paid", grant_id="g1")
    admin.put_price_book("default", [RATES])
    usage = Usage(model="gpt-4.1", input_tokens=10_000, output_tokens=1_000)
    made = [
        admin.debit("acme", usage=usage, subject={"user_id": "u1"}),
        *(admin.debit("acme", n, metadata={"n": n}) for n in (1, 2, 3, 4)),
    ]
    refund = admin.refund("acme", made[0].debit_id, amount=2, reason="bad answer")
    seen = admin.last_position

    first = admin.list_debits("acme", limit=2, min_position=seen)
    oldest_first = list(admin.iter_debits("acme", limit=2, min_position=seen))
    newest_first = list(admin.iter_debits("acme", order="desc", limit=3, min_position=seen))
    detail = admin.get_debit("acme", made[0].debit_id, min_position=seen)

    made_ids = [d.debit_id for d in made]
    assert [d.debit_id for d in first.items] == made_ids[:2]
    assert first.next_after == first.items[-1].position
    assert all(isinstance(d, DebitSummary) for d in oldest_first)
    assert [d.debit_id for d in oldest_first] == made_ids
    assert [d.debit_id for d in newest_first] == made_ids[::-1]
    rated = oldest_first[0]
    assert (rated.amount, rated.refunded) == (28, 2)
    assert rated.subject == {"user_id": "u1", "model": "gpt-4.1"}  # the usage's model joins it
    assert rated.rating is not None
    assert (rated.rating.amount, rated.rating.usage) == (28, usage.to_json())
    assert [(d.amount, d.metadata) for d in oldest_first[1:]] == [
        (n, {"n": n}) for n in (1, 2, 3, 4)
    ]
    assert isinstance(detail, DebitDetail)
    assert [(a.grant_id, a.amount) for a in detail.allocations] == [("g1", 28)]
    assert [(r.refund_id, r.amount, r.reason) for r in detail.refunds] == [
        (refund.refund_id, 2, "bad answer")
    ]
    assert detail.refunds[0].allocations[0].grant_id == "g1"
    with pytest.raises(DebitNotFound) as unknown:
        admin.get_debit("acme", "no-such-debit")
    assert unknown.value.status == 404


def test_holds_are_listed_by_status(admin: Ledger) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 1000, "paid")
    with admin.hold("acme", 50, subject={"user_id": "u1"}) as captured:
        captured.capture(20)
    with admin.hold("acme", 30):
        pass
    still_open = admin.place_hold("acme", 40, hold_id="h-open")
    seen = admin.last_position

    every = list(admin.iter_holds("acme", limit=1, min_position=seen))
    opened = admin.list_holds("acme", status="open", min_position=seen)
    newest = admin.list_holds("acme", order="desc", limit=1, min_position=seen)

    assert all(isinstance(h, Hold) for h in every)
    assert [(h.status, h.amount) for h in every] == [
        ("captured", 50),
        ("released", 30),
        ("open", 40),
    ]
    assert (every[0].captured, every[0].subject) == (20, {"user_id": "u1"})
    assert [h.hold_id for h in opened.items] == [still_open.hold_id] == ["h-open"]
    assert [h.hold_id for h in newest.items] == ["h-open"]
    assert newest.next_after == every[2].position
    positions = [h.position or 0 for h in every]
    assert positions == sorted(positions)


def test_the_async_client_walks_every_page(server: LiveServer, admin: Ledger) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 100, "paid")
    made = [admin.debit("acme", 1).debit_id for _ in range(5)]
    seen = admin.last_position
    network = AsyncCountingTransport()

    async def walk() -> tuple[list[str], list[str]]:
        async with AsyncLedger(server.url, TEST_ADMIN_KEY, transport=network) as ledger:
            debits = [
                d.debit_id async for d in ledger.iter_debits("acme", limit=2, min_position=seen)
            ]
            page = await ledger.list_wallets(min_position=seen)
            return debits, [w.wallet_id for w in page.items]

    debits, wallets = asyncio.run(walk())

    assert debits == made
    assert network.counts["GET", "/v1/wallets/acme/debits"] == 3
    assert wallets == ["acme"]


def test_the_journal_and_a_wallets_events_are_walked_to_their_end(admin: Ledger) -> None:
    admin.open_wallet("acme")
    for n in range(3):
        admin.grant("acme", 10, "paid", grant_id=f"g{n}")
    admin.grant("acme", 70, "paid")
    for _ in range(4):
        admin.debit("acme", 3)
    spread = admin.debit("acme", 25)  # from three grants: more legs than a page holds
    seen = admin.last_position

    events = list(admin.iter_wallet_events("acme", limit=2))
    rows = list(admin.iter_journal(wallet_id="acme", limit=3, min_position=seen))
    everything = admin.get_journal(wallet_id="acme", limit=1000).items
    last = everything[-1].position
    first = admin.get_journal(wallet_id="acme", limit=3, after=last - 1)

    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("CreditsDebited") == 5
    assert len(spread.allocations) == 3
    assert (len(first.items), first.next_after) == (3, last)
    assert first.next_after_leg is not None  # the page ended inside the debit's event
    assert [(r.position, r.account, r.debit, r.credit) for r in rows] == [
        (r.position, r.account, r.debit, r.credit) for r in everything
    ]
    assert sum(r.debit for r in rows) == sum(r.credit for r in rows) == 100 + 4 * 3 + 25
