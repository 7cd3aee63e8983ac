"""``POST /v1/batch`` on PostgreSQL: the same batch sent again and again, at once, by many
clients to two server processes, decides every operation once.

Two ``ledger serve`` workers share the store, so the same keys reach two committers: their
saves collide on the receipts and wallets, are decided again and replay. Each client resends
the whole batch after a transport error, a 5xx or any result that is not definitive, as a
careful client would. Afterwards every recorded answer is the same for every client, at most
one of them was not a replay, and the wallets' event streams hold each operation once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import (
    TEST_ADMIN_KEY,
    LiveServer,
    live_server,
    pg_store_url,
    server_env,
)

WALLETS = ["bw-0", "bw-1", "bw-2", "bw-3"]
CLIENTS = 10
SENDS = 2  # each client sends the batch this many times once it was answered
GRANT = 1000
DEFINITIVE = {200, 201, 402}


@pytest.fixture
def server(postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(pg_store_url(postgres_url, pg_schema))
    env["LEDGER_WORKERS"] = "2"
    with live_server(env, tmp_path / "logs") as running:
        yield running


def _operations() -> list[dict[str, Any]]:
    """Per wallet: debits of 1..8, a hold captured in part, a hold released, a refusal."""
    operations: list[dict[str, Any]] = []
    for wallet in WALLETS:
        base = {"wallet_id": wallet}
        for n in range(1, 9):
            operations.append(
                {**base, "op": "debit", "idempotency_key": f"{wallet}-d{n}", "amount": n}
            )
        operations += [
            {
                **base,
                "op": "hold",
                "idempotency_key": f"{wallet}-h1",
                "hold_id": "h1",
                "amount": 10,
            },
            {
                **base,
                "op": "capture",
                "idempotency_key": f"{wallet}-c1",
                "hold_id": "h1",
                "amount": 6,
            },
            {**base, "op": "hold", "idempotency_key": f"{wallet}-h2", "hold_id": "h2", "amount": 5},
            {**base, "op": "release", "idempotency_key": f"{wallet}-r2", "hold_id": "h2"},
            {**base, "op": "debit", "idempotency_key": f"{wallet}-big", "amount": 100_000},
        ]
    return operations


def _send_until_definitive(
    http: httpx.Client, key: str, operations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            response = http.post(
                "/v1/batch",
                json={"operations": operations},
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx.TransportError:
            continue
        if response.status_code == 200:
            results: list[dict[str, Any]] = response.json()["results"]
            if all(r["status"] in DEFINITIVE for r in results):
                return results
        else:
            assert response.status_code >= 500, response.text
        time.sleep(0.02)
    raise AssertionError("the batch never got a definitive answer")


def _events(http: httpx.Client, wallet: str) -> list[dict[str, Any]]:
    answer = http.get(f"/v1/wallets/{wallet}/events", params={"limit": 1000})
    answer.raise_for_status()
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


@pytest.mark.timeout(300)
def test_the_same_batch_sent_by_many_clients_at_once_decides_each_operation_once(
    server: LiveServer,
) -> None:
    headers = {"Authorization": f"Bearer {TEST_ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as admin:
        key = _seed(admin)
        answers = _send_together(server.url, key, _operations())
        _check(admin, answers)


def _seed(admin: httpx.Client) -> str:
    """The wallets, each with ``GRANT`` credits; returns a service key."""
    for wallet in WALLETS:
        assert admin.post("/v1/wallets", json={"wallet_id": wallet}).status_code == 201
        grant = {"grant_id": "seed", "amount": GRANT, "category": "paid"}
        assert admin.post(f"/v1/wallets/{wallet}/grants", json=grant).status_code == 201
    issued = admin.post("/v1/api-keys", json={"scopes": ["service"], "name": "batch test"})
    return str(issued.json()["key"])


def _send_together(
    url: str, key: str, operations: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Every client's answers: each sends the batch ``SENDS`` times, all starting at once."""
    answers: list[list[dict[str, Any]]] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            for _ in range(SENDS):
                results = _send_until_definitive(http, key, operations)
                with lock:
                    answers.append(results)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    return answers


def _check(admin: httpx.Client, answers: list[list[dict[str, Any]]]) -> None:
    assert len(answers) == CLIENTS * SENDS
    fresh: Counter[int] = Counter()
    for results in answers:
        for index, result in enumerate(results):
            first = answers[0][index]
            assert result["status"] == first["status"], (index, result, first)
            if result["status"] < 400:
                assert result["body"] == first["body"], index
                fresh[index] += not result.get("replayed", False)
    assert all(n <= 1 for n in fresh.values()), fresh
    for wallet in WALLETS:
        events = _events(admin, wallet)
        debits = Counter(
            e["data"]["idempotency_key"] for e in events if e["type"] == "CreditsDebited"
        )
        assert debits == {f"{wallet}-d{n}": 1 for n in range(1, 9)}
        kinds = Counter(e["type"] for e in events)
        assert (kinds["HoldPlaced"], kinds["HoldCaptured"], kinds["HoldReleased"]) == (2, 1, 1)
        balance = admin.get(f"/v1/wallets/{wallet}").json()["balance"]
        assert balance == {"available": GRANT - 36 - 6, "held": 0, "debt": 0}
