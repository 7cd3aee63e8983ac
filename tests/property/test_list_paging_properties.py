"""Paging the lists read model visits every item exactly once, whatever the page size.

Random wallets (ids, customers), debits and holds are recorded and projected in random
batch sizes; then every list is paged through with a random ``limit`` (and direction): each
page holds at most ``limit`` items and at least one unless it is the last, ``next_after``
is null exactly on the last page, and the pages together are every item, once, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold, ReleaseHold
from projections import ProjectionRunner, open_views
from projections.list_queries import Page, debit_page, hold_page, wallet_page
from tests.support.builders import FakeClock, make_ledger

wallet_ids = st.lists(
    st.text("abcXYZ019._:-", min_size=1, max_size=6), min_size=0, max_size=12, unique=True
)
customers = st.lists(st.sampled_from(["c1", "c2", "c3"]), min_size=12, max_size=12)
limits = st.integers(1, 15)


def pages(fetch: Callable[[Any], Page], limit: int) -> list[Any]:
    """Every item, page by page, checking each page's size and cursor."""
    items: list[Any] = []
    after = None
    for _ in range(1000):
        page = fetch(after)
        assert len(page.items) <= limit
        items.extend(page.items)
        if page.next_after is None:
            return items
        assert len(page.items) == limit  # only the last page may be short
        after = page.next_after
    raise AssertionError("paging did not end")


@given(
    ids=wallet_ids,
    owners=customers,
    limit=limits,
    batch=st.integers(1, 7),
    spends=st.lists(st.tuples(st.integers(1, 50), st.booleans()), max_size=25),
    descending=st.booleans(),
)
def test_paging_visits_every_item_once_in_order(
    *,
    ids: list[str],
    owners: list[str],
    limit: int,
    batch: int,
    spends: list[tuple[int, bool]],
    descending: bool,
) -> None:
    clock = FakeClock()
    ledger = make_ledger(clock=clock)
    views = open_views(ledger.env)
    try:
        ledger.open_wallet(OpenWallet(wallet_id="spender", customer_id="c1"))
        for wallet_id, owner in zip(ids, owners, strict=False):
            ledger.open_wallet(OpenWallet(wallet_id=wallet_id, customer_id=owner))
        ledger.grant(GrantCredits(wallet_id="spender", amount=100_000, category="paid"))
        holds = []
        for index, (amount, as_hold) in enumerate(spends):
            if as_hold:
                hold_id = f"h{index}"
                ledger.place_hold(PlaceHold(wallet_id="spender", hold_id=hold_id, amount=amount))
                holds.append(hold_id)
                if index % 3 == 0:
                    ledger.release_hold(ReleaseHold(wallet_id="spender", hold_id=hold_id))
            else:
                ledger.debit(Debit(wallet_id="spender", amount=amount))
        ProjectionRunner(ledger, views, batch_size=batch).catch_up()

        everyone = sorted([*ids, "spender"])
        listed = pages(
            lambda after: wallet_page(
                views, customer_id=None, allowed=None, after=after, limit=limit
            ),
            limit,
        )
        assert [w["wallet_id"] for w in listed] == everyone
        owner_of = dict(zip(ids, owners, strict=False)) | {"spender": "c1"}
        mine = pages(
            lambda after: wallet_page(
                views, customer_id=None, allowed={"c1", "c2"}, after=after, limit=limit
            ),
            limit,
        )
        assert [w["wallet_id"] for w in mine] == [w for w in everyone if owner_of[w] != "c3"]

        debits = pages(
            lambda after: debit_page(
                views, "spender", after=after, limit=limit, descending=descending
            ),
            limit,
        )
        amounts = [amount for amount, as_hold in spends if not as_hold]
        assert [d["amount"] for d in debits] == (amounts[::-1] if descending else amounts)
        held = pages(
            lambda after: hold_page(
                views,
                "spender",
                status=None,
                now=clock(),
                after=after,
                limit=limit,
                descending=descending,
            ),
            limit,
        )
        assert [h["hold_id"] for h in held] == (holds[::-1] if descending else holds)
    finally:
        views.close()
        ledger.close()
