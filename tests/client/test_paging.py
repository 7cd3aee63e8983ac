"""How ``iter_*`` walks a paged list: each next page is asked for with the last page's
``next_after`` as ``after`` and the same other parameters, only once the items before it
are used up; a server answering a cursor that does not move stops the walk with an error
instead of looping. (Against a real server: test_live_lists.py and test_live_1_1.py.)"""

from __future__ import annotations

import asyncio
import inspect
import itertools

import httpx
import pytest
from credit_ledger import AsyncLedger, Ledger

from tests.client.conftest import KEY

DEBITS = [f"d{n}" for n in range(1, 6)]


class PagedDebits:
    """``GET /v1/wallets/acme/debits`` over :data:`DEBITS`, positions 1-5."""

    def __init__(self, stuck: bool = False) -> None:
        self.queries: list[dict[str, str]] = []
        self.stuck = stuck

    def handle(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        self.queries.append(query)
        after, limit = int(query.get("after", 0)), int(query.get("limit", 100))
        page = DEBITS[after : after + limit]
        more = after + limit < len(DEBITS)
        next_after = (after if self.stuck else after + limit) if more else None
        debits = [
            {"debit_id": d, "amount": 1, "position": after + i + 1} for i, d in enumerate(page)
        ]
        return httpx.Response(200, json={"debits": debits, "next_after": next_after})


def test_every_page_is_asked_for_with_the_last_cursor_and_the_same_parameters() -> None:
    server = PagedDebits()

    with Ledger("http://ledger.test", KEY, transport=httpx.MockTransport(server.handle)) as ledger:
        ids = [d.debit_id for d in ledger.iter_debits("acme", limit=2, order="asc", min_position=9)]

    assert ids == DEBITS
    assert server.queries == [
        {"limit": "2", "order": "asc", "min_position": "9"},
        {"limit": "2", "order": "asc", "min_position": "9", "after": "2"},
        {"limit": "2", "order": "asc", "min_position": "9", "after": "4"},
    ]


def test_a_page_is_asked_for_only_when_the_items_before_it_are_used_up() -> None:
    server = PagedDebits()

    with Ledger("http://ledger.test", KEY, transport=httpx.MockTransport(server.handle)) as ledger:
        walk = ledger.iter_debits("acme", after=1, limit=2)
        assert server.queries == []
        first_two = list(itertools.islice(walk, 2))
        asked = len(server.queries)
        third = next(walk)

    assert [d.debit_id for d in first_two] == ["d2", "d3"]
    assert asked == 1
    assert third.debit_id == "d4"
    assert len(server.queries) == 2


def test_a_cursor_that_does_not_move_stops_the_walk() -> None:
    server = PagedDebits(stuck=True)

    with (
        Ledger("http://ledger.test", KEY, transport=httpx.MockTransport(server.handle)) as ledger,
        pytest.raises(RuntimeError, match="same cursor"),
    ):
        list(ledger.iter_debits("acme", after=1, limit=2))

    assert len(server.queries) == 1


def test_the_async_iterators_walk_the_same_pages() -> None:
    server = PagedDebits()

    async def walk() -> list[str]:
        transport = httpx.MockTransport(server.handle)
        async with AsyncLedger("http://ledger.test", KEY, transport=transport) as ledger:
            return [d.debit_id async for d in ledger.iter_debits("acme", limit=3)]

    assert asyncio.run(walk()) == DEBITS
    assert [q.get("after") for q in server.queries] == [None, "3"]


def test_the_iterators_take_their_lists_parameters() -> None:
    with Ledger("http://ledger.test", KEY) as ledger:
        iterator, page = ledger.iter_holds, ledger.list_holds

    assert iterator.__name__ == "iter_holds"
    assert inspect.signature(iterator).parameters == inspect.signature(page).parameters
