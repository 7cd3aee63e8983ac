"""The benchmark's SQL peer is a correct (if minimal) ledger: what it is compared with must
not be faster for being wrong.

One transaction per debit: a repeated key replays and debits nothing, a refusal records
nothing (not even the key), a debit never takes a balance below zero.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from bench import peer


@pytest.fixture
def url(postgres_url: str, pg_schema: str) -> str:
    """The test database with the test's schema first on the search path (the peer's
    tables are unqualified)."""
    joiner = "&" if "?" in postgres_url else "?"
    scoped = f"{postgres_url}{joiner}options=-csearch_path%3D{pg_schema}"
    peer.prepare(scoped, ["w"], 10)
    return scoped


def debit(url: str, key: str, amount: int) -> tuple[int, dict[str, Any], bool]:
    async def run() -> tuple[int, dict[str, Any], bool]:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await peer.debit(conn, "w", key, amount)

    return asyncio.run(run())


def keys(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(r[0]) for r in conn.execute("SELECT idempotency_key FROM peer_debits")]


def test_a_debit_takes_from_the_balance_once_and_a_repeat_replays(url: str) -> None:
    status, body, replayed = debit(url, "k1", 4)
    again = debit(url, "k1", 4)

    assert (status, replayed, body["balance"]) == (201, False, {"available": 6})
    assert again[0] == 201
    assert again[2] is True
    assert again[1]["debit_id"] == body["debit_id"]
    assert peer.balances(url, ["w"]) == {"w": 6}
    assert debit(url, "k1", 5)[0] == 409  # the same key, another amount


def test_a_refusal_records_nothing_not_even_the_key(url: str) -> None:
    status, body, _ = debit(url, "k2", 11)

    assert (status, body["code"], body["available"]) == (402, "insufficient_credits", 10)
    assert keys(url) == []
    assert peer.balances(url, ["w"]) == {"w": 10}
    assert debit(url, "k2", 10)[0] == 201  # the key was not taken by the refusal
    assert debit(url, "k3", 1)[0] == 402  # and nothing goes below zero


def test_an_unknown_wallet_is_not_found(url: str) -> None:
    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return (await peer.debit(conn, "nobody", "k", 1))[0]

    assert asyncio.run(run()) == 404
    assert keys(url) == []
