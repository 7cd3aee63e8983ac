"""Micro-batching and ``batch()`` against a real server (SQLite and Postgres).

A counting connection shows what travelled: concurrent calls of one client leave as one
``POST /v1/batch`` (none to the single endpoints), each caller still gets its own answer or
its own exception, a refusal in one operation leaves the others decided, and a batch whose
answer was lost is sent again and answered from the server's idempotency records
(``replayed: true``), deciding nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
from credit_ledger import (
    AsyncLedger,
    BatchResult,
    Debit,
    HoldNotFound,
    InsufficientCredits,
    Ledger,
)

from tests.client.live import AsyncCountingTransport, CountingTransport, events_of
from tests.support.live_server import TEST_ADMIN_KEY, LiveServer

THREADS = 8


def fund(admin: Ledger, **wallets: int) -> None:
    for wallet_id, amount in wallets.items():
        admin.open_wallet(wallet_id)
        admin.grant(wallet_id, amount, "paid")


def batch_sizes(network: CountingTransport | AsyncCountingTransport) -> list[int]:
    return [
        len(json.loads(body)["operations"]) for path, body in network.bodies if path == "/v1/batch"
    ]


def debit_in_threads(ledger: Ledger, amounts: list[int]) -> list[Any]:
    """Each amount debited from ``acme`` by its own thread, all started together."""
    results: list[Any] = [None] * len(amounts)
    start = threading.Barrier(len(amounts))

    def work(index: int) -> None:
        start.wait()
        try:
            results[index] = ledger.debit("acme", amounts[index])
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(amounts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_threads_share_batches_and_each_gets_its_own_answer(
    server: LiveServer, admin: Ledger
) -> None:
    fund(admin, acme=1000)
    network = CountingTransport()
    amounts = [10, 20, 30, 5000, 40, 50, 60, 70]

    with Ledger(
        server.url, TEST_ADMIN_KEY, batch_window=0.002, batch_max_size=THREADS, transport=network
    ) as ledger:
        # Threads started together meet within 2 ms unless the machine stalls this process
        # for longer; a few rounds make sure at least one batch carried several callers.
        rounds = []
        for _ in range(3):
            rounds.append(debit_in_threads(ledger, amounts))
            if max(batch_sizes(network)) > 1:
                break

    for results in rounds:
        for amount, result in zip(amounts, results, strict=True):
            if amount == 5000:
                assert isinstance(result, InsufficientCredits)
                assert result.requested == 5000
            else:
                assert isinstance(result, Debit)
                assert result.amount == amount
    assert max(batch_sizes(network)) > 1
    assert sum(batch_sizes(network)) == len(amounts) * len(rounds)
    assert network.counts["POST", "/v1/wallets/acme/debits"] == 0
    debited = sum(a for a in amounts if a != 5000) * len(rounds)
    assert admin.get_wallet("acme").balance.available == 1000 - debited
    assert len(events_of(admin, "acme", "CreditsDebited")) == 7 * len(rounds)


def test_gathered_tasks_travel_in_one_batch_and_a_refusal_stays_their_own(
    server: LiveServer, admin: Ledger
) -> None:
    fund(admin, acme=1000, poor=5)
    network = AsyncCountingTransport()

    async def run() -> list[Any]:
        async with AsyncLedger(
            server.url, TEST_ADMIN_KEY, batch_window=0.002, transport=network
        ) as ledger:
            calls = [
                ledger.debit("acme", 100, subject={"user_id": "u1"}),
                ledger.debit("poor", 50),
                ledger.place_hold("acme", 200, hold_id="h1"),
                ledger.capture_hold("acme", "no-such-hold"),
                ledger.debit("poor", 5),
            ]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    debit, refused, hold, unknown, drained = asyncio.run(run())

    assert batch_sizes(network) == [5]
    assert network.counts["POST", "/v1/batch"] == 1
    assert isinstance(debit, Debit)
    assert debit.balance.available == 900
    assert isinstance(refused, InsufficientCredits)
    assert (refused.available, refused.requested) == (5, 50)
    assert (hold.hold_id, hold.amount, hold.status) == ("h1", 200, "open")
    assert isinstance(unknown, HoldNotFound)
    assert isinstance(drained, Debit)
    assert drained.balance.available == 0
    wallet = admin.get_wallet("acme")
    assert (wallet.balance.available, wallet.balance.held) == (700, 200)


class LoseFirstBatchAnswer(httpx.AsyncBaseTransport):
    """The network: the first batch's answer is read from the server, then lost; every
    batch answer is kept."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.answers: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/v1/batch":
            await response.aread()
            self.answers.append(response.json())
            if len(self.answers) == 1:
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_batch_whose_answer_was_lost_is_replayed_not_decided_again(
    server: LiveServer, admin: Ledger
) -> None:
    fund(admin, acme=1000)
    network = LoseFirstBatchAnswer()

    async def run() -> list[Debit]:
        async with AsyncLedger(
            server.url, TEST_ADMIN_KEY, batch_window=0.002, transport=network
        ) as ledger:
            return list(await asyncio.gather(*(ledger.debit("acme", n) for n in (1, 2, 3))))

    debits = asyncio.run(run())

    # Each caller retries its own operation (after its own jittered delay), so the three
    # may travel again together or apart; each carries its key either way.
    lost = network.answers[0]["results"]
    resent = [result for answer in network.answers[1:] for result in answer["results"]]
    assert [r.get("replayed", False) for r in lost] == [False] * 3
    assert [r["replayed"] for r in resent] == [True] * 3
    by_id = {r["body"]["debit_id"]: r["body"] for r in lost}
    assert {r["body"]["debit_id"]: r["body"] for r in resent} == by_id
    assert [d.debit_id for d in debits] == [r["body"]["debit_id"] for r in lost]
    assert admin.get_wallet("acme").balance.available == 1000 - 6
    assert len(events_of(admin, "acme", "CreditsDebited")) == 3


def test_an_explicit_batch_answers_each_operation_and_replays_with_the_same_keys(
    admin: Ledger,
) -> None:
    fund(admin, acme=1000, poor=5)
    operations: list[dict[str, Any]] = [
        {"op": "debit", "wallet_id": "acme", "idempotency_key": "r-1", "amount": 3},
        {"op": "debit", "wallet_id": "poor", "idempotency_key": "r-2", "amount": 50},
        {
            "op": "hold",
            "wallet_id": "acme",
            "idempotency_key": "r-3",
            "hold_id": "h9",
            "amount": 50,
        },
        {
            "op": "capture",
            "wallet_id": "acme",
            "idempotency_key": "r-4",
            "hold_id": "h9",
            "amount": 30,
        },
        {"op": "release", "wallet_id": "acme", "idempotency_key": "r-5", "hold_id": "h9"},
    ]

    results = admin.batch(operations)
    again = admin.batch(operations)

    assert all(isinstance(r, BatchResult) for r in results)
    assert [(r.index, r.status) for r in results] == [
        (0, 201),
        (1, 402),
        (2, 201),
        (3, 200),
        (4, 409),
    ]
    assert results[1].body["code"] == "insufficient_credits"
    assert [r.position is not None for r in results] == [True, False, True, True, False]
    assert results[4].body["code"] == "hold_not_open"
    assert [r.status for r in again] == [r.status for r in results]
    assert [r.replayed for r in again if r.status < 300] == [True, True, True]
    assert [r.body for r in again if r.status < 300] == [r.body for r in results if r.status < 300]
    assert admin.get_wallet("acme").balance.available == 1000 - 3 - 30
