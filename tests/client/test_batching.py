"""Micro-batching: concurrent spending calls travel as one POST /v1/batch, and each caller
gets its own answer or its own exception.

These run against the fake ledger, for what a real server cannot show on demand (a window
that closes late, a batch that gets no answer, one operation answered 503, a server without
the route); the same against a real server: test_live_batch.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from credit_ledger import (
    AsyncLedger,
    BatchResult,
    Debit,
    InsufficientCredits,
    Ledger,
    PlacedHold,
)
from credit_ledger.batching import SyncBatcher
from credit_ledger.calls import Answer, Call
from credit_ledger.ops_spending import debit

from tests.client.conftest import KEY
from tests.client.fakes import FakeLedger


def run_in_threads(count: int, work: Any) -> list[Any]:
    """``work(i)`` in ``count`` threads started together; each result or exception."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def worker(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_concurrent_calls_within_the_window_travel_as_one_batch(fake: FakeLedger) -> None:
    client = httpx.Client(base_url="http://ledger.test", transport=fake.transport())

    def send(call: Call[Any]) -> Answer:
        response = client.request(call.method, call.path, content=call.content())
        return Answer(response.status_code, response.headers, response.content)

    # The window is 2 ms; the opener waits 0.3 s here, so that on a loaded machine every
    # thread surely joins before it closes (what is tested is who joins, not the clock).
    batcher = SyncBatcher(send, 0.002, 100, sleep=lambda _: time.sleep(0.3))
    amounts = [100, 200, 300, 5000, 400]

    answers = run_in_threads(
        len(amounts), lambda i: batcher.submit(debit("acme", amounts[i], idempotency_key=f"k{i}"))
    )

    posts = fake.sent("/v1/batch")
    assert len(posts) == 1
    assert sorted(op["idempotency_key"] for op in posts[0].body["operations"]) == [
        f"k{i}" for i in range(5)
    ]
    assert [a.status for a in answers] == [201, 201, 201, 402, 201]
    assert [a.body.get("amount") for a in answers if a.status == 201] == [100, 200, 300, 400]
    assert answers[3].body["code"] == "insufficient_credits"
    assert fake.sent("/v1/wallets/acme/debits") == []


def test_each_caller_gets_its_own_answer_or_exception(fake: FakeLedger) -> None:
    ledger = Ledger("http://ledger.test", KEY, transport=fake.transport(), batch_window=0.002)
    amounts = [10, 20, 30, 40, 2000, 50, 60, 70]

    with ledger:
        results = run_in_threads(len(amounts), lambda i: ledger.debit("acme", amounts[i]))

    for amount, result in zip(amounts, results, strict=True):
        if amount == 2000:
            assert isinstance(result, InsufficientCredits)
            assert result.requested == 2000
        else:
            assert isinstance(result, Debit)
            assert result.amount == amount
    operations = [op for post in fake.sent("/v1/batch") for op in post.body["operations"]]
    assert sorted(op["amount"] for op in operations) == sorted(amounts)
    assert len({op["idempotency_key"] for op in operations}) == len(amounts)
    assert 1 <= len(fake.sent("/v1/batch")) <= len(amounts)
    assert fake.sent("/v1/wallets/acme/debits") == []
    assert fake.balances["acme"] == 1000 - sum(a for a in amounts if a != 2000)


def test_a_batch_that_got_no_answer_is_resent_with_the_same_keys(
    fake: FakeLedger, delays: list[float]
) -> None:
    fake.faults = [lambda request: httpx.ConnectError("reset", request=request)]
    ledger = Ledger("http://ledger.test", KEY, transport=fake.transport(), batch_window=0.001)

    with ledger:
        placed = ledger.place_hold("acme", 50, hold_id="h9")

    first, second = fake.sent("/v1/batch")
    assert first.body == second.body
    assert first.body["operations"][0]["hold_id"] == "h9"
    assert isinstance(placed, PlacedHold)
    assert fake.balances["acme"] == 950
    assert len(delays) == 1


def test_an_operation_the_batch_answered_503_is_resubmitted_with_its_key(
    fake: FakeLedger, delays: list[float]
) -> None:
    fake.overloaded_items = 1
    ledger = Ledger("http://ledger.test", KEY, transport=fake.transport(), batch_window=0.001)

    with ledger:
        debited = ledger.debit("acme", 25, idempotency_key="d-25")

    posts = fake.sent("/v1/batch")
    assert [p.body["operations"][0]["idempotency_key"] for p in posts] == ["d-25", "d-25"]
    assert debited.amount == 25
    assert fake.balances["acme"] == 975
    assert len(delays) == 1


def test_holds_captures_and_releases_are_batched_too(fake: FakeLedger) -> None:
    ledger = Ledger("http://ledger.test", KEY, transport=fake.transport(), batch_window=0.001)

    with ledger:
        with ledger.hold("acme", 50) as h:
            h.capture(30)
        with ledger.hold("acme", 50):
            pass

    ops = [post.body["operations"][0]["op"] for post in fake.sent("/v1/batch")]
    assert ops == ["hold", "capture", "hold", "release"]
    assert fake.balances["acme"] == 970
    assert [r.path for r in fake.requests] == ["/v1/batch"] * 4


def test_without_a_batch_route_the_calls_go_to_their_own_endpoints(fake: FakeLedger) -> None:
    fake.batch_route = False
    ledger = Ledger("http://ledger.test", KEY, transport=fake.transport(), batch_window=0.001)

    with ledger:
        first = ledger.debit("acme", 10)
        second = ledger.debit("acme", 20)

    assert (first.amount, second.amount) == (10, 20)
    assert len(fake.sent("/v1/batch")) == 1  # tried once, then turned off
    assert len(fake.sent("/v1/wallets/acme/debits")) == 2
    assert fake.balances["acme"] == 970


def test_async_calls_gathered_together_travel_as_one_batch(fake: FakeLedger) -> None:
    amounts = [5, 15, 9000, 25]

    async def run() -> list[Any]:
        async with AsyncLedger(
            "http://ledger.test", KEY, transport=fake.transport(), batch_window=0.002
        ) as ledger:
            calls = [ledger.debit("acme", amount) for amount in amounts]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(run())

    assert len(fake.sent("/v1/batch")) == 1
    assert [r.amount for r in results if isinstance(r, Debit)] == [5, 15, 25]
    assert isinstance(results[2], InsufficientCredits)
    assert fake.balances["acme"] == 955


def test_a_full_batch_leaves_at_once_and_the_rest_follow(fake: FakeLedger) -> None:
    async def run() -> None:
        async with AsyncLedger(
            "http://ledger.test",
            KEY,
            transport=fake.transport(),
            batch_window=0.002,
            batch_max_size=3,
        ) as ledger:
            await asyncio.gather(*(ledger.debit("acme", 1) for _ in range(7)))

    asyncio.run(run())

    sizes = [len(post.body["operations"]) for post in fake.sent("/v1/batch")]
    assert sizes == [3, 3, 1]


def test_the_window_and_size_are_bounded() -> None:
    with pytest.raises(ValueError, match="window"):
        Ledger("http://ledger.test", KEY, batch_window=0.005)
    with pytest.raises(ValueError, match="size"):
        Ledger("http://ledger.test", KEY, batch_window=0.001, batch_max_size=1001)


def test_an_explicit_batch_gets_a_key_on_every_operation(ledger: Ledger, fake: FakeLedger) -> None:
    results = ledger.batch(
        [
            {"op": "debit", "wallet_id": "acme", "amount": 3, "idempotency_key": "r-1"},
            {"op": "debit", "wallet_id": "beta", "amount": 5000},
            {"op": "hold", "wallet_id": "acme", "hold_id": "h9", "amount": 50},
        ]
    )

    assert [r.status for r in results] == [201, 402, 201]
    assert all(isinstance(r, BatchResult) for r in results)
    operations = fake.sent("/v1/batch")[0].body["operations"]
    assert operations[0]["idempotency_key"] == "r-1"
    assert all(op["idempotency_key"] for op in operations)
    again = ledger.batch([{**op} for op in operations])
    assert [r.replayed for r in again] == [True, True, True]
    assert fake.balances["acme"] == 947
