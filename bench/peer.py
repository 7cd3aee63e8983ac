"""The hand-written SQL peer: what the debit route would be without the event-sourced ledger.

The yardstick of issue 15: the same web stack as the ledger (litestar on uvicorn with uvloop
and httptools, one worker, no access log), the same route, headers and body
(``POST /v1/wallets/{wallet_id}/debits`` ``{"amount": n}`` with ``Idempotency-Key``), and a
psycopg pool on the same PostgreSQL cluster, with its own tables. Each request is ONE
transaction of two statements:

1. the idempotency row, ``INSERT ... ON CONFLICT DO NOTHING``: a key used before answers the
   stored debit (a replay) and changes nothing;
2. the guarded debit, ``UPDATE peer_wallets SET balance = balance - $1 WHERE id = $2 AND
   balance >= $1``: no row means the wallet is unknown or short (the transaction is rolled
   back, so a refusal records nothing, idempotency row included).

The wallet's row lock is held from the UPDATE to the end of the COMMIT (its WAL flush): that
is what bounds this design on one hot wallet. There are no budgets, grants, holds, receipts
of refusals, events or journal: it is deliberately the least a correct ledger could do.

Run by ``bench.server.running_peer`` as ``uvicorn --factory bench.peer:create_app``; the
database, the API key and the pool size come from ``PEER_*`` environment variables.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import uuid4

import msgspec
import psycopg
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from psycopg_pool import AsyncConnectionPool

__all__ = ["DebitIn", "balances", "create_app", "debit", "prepare"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS peer_wallets ("
    " id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))",
    "CREATE TABLE IF NOT EXISTS peer_debits ("
    " wallet_id text NOT NULL, idempotency_key text NOT NULL, debit_id uuid NOT NULL,"
    " amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (wallet_id, idempotency_key))",
)
CLAIM = (
    "INSERT INTO peer_debits (wallet_id, idempotency_key, debit_id, amount)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING debit_id"
)
DEBIT = (
    "UPDATE peer_wallets SET balance = balance - %s"
    " WHERE id = %s AND balance >= %s RETURNING balance"
)
STORED = "SELECT debit_id, amount FROM peer_debits WHERE wallet_id = %s AND idempotency_key = %s"
EXISTS = "SELECT balance FROM peer_wallets WHERE id = %s"
PROBLEM = "application/problem+json"


class DebitIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(gt=0, le=9007199254740991)]


class _Refused(Exception):
    """Rolls the transaction back; ``status`` and ``body`` answer the request."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body["code"])
        self.status = status
        self.body = body


def _problem(status: int, code: str, detail: str, **extra: Any) -> _Refused:
    return _Refused(status, {"status": status, "code": code, "detail": detail, **extra})


async def debit(
    conn: psycopg.AsyncConnection[Any], wallet_id: str, key: str, amount: int
) -> tuple[int, dict[str, Any], bool]:
    """One debit in one transaction: ``(status, body, replayed)``."""
    try:
        async with conn.transaction():
            claim = await conn.execute(CLAIM, (wallet_id, key, uuid4(), amount))
            claimed = await claim.fetchone()
            if claimed is None:
                stored = await (await conn.execute(STORED, (wallet_id, key))).fetchone()
                if stored is None or stored[1] != amount:
                    raise _problem(409, "idempotency_conflict", "key used with another body")
                body = {"debit_id": str(stored[0]), "wallet_id": wallet_id, "amount": amount}
                return 201, body, True
            row = await (await conn.execute(DEBIT, (amount, wallet_id, amount))).fetchone()
            if row is None:
                wallet = await (await conn.execute(EXISTS, (wallet_id,))).fetchone()
                if wallet is None:
                    raise _problem(404, "wallet_not_found", f"no wallet {wallet_id}")
                raise _problem(
                    402, "insufficient_credits", "short", available=wallet[0], requested=amount
                )
    except _Refused as refused:
        return refused.status, refused.body, False
    body = {
        "debit_id": str(claimed[0]),
        "wallet_id": wallet_id,
        "amount": amount,
        "balance": {"available": row[0]},
    }
    return 201, body, False


@post("/v1/wallets/{wallet_id:str}/debits", status_code=201)
async def debit_route(
    request: Request[Any, Any, State],
    wallet_id: str,
    data: DebitIn,
    idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key")] = None,
) -> Response[dict[str, Any]]:
    state = request.app.state
    presented = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(presented.encode(), state.api_key):
        return Response(
            {"status": 401, "code": "unauthenticated"}, status_code=401, media_type=PROBLEM
        )
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = state.pool
    async with pool.connection() as conn:
        status, body, replayed = await debit(
            conn, wallet_id, idempotency_key or f"auto/{uuid4()}", data.amount
        )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    media_type = PROBLEM if status >= 400 else "application/json"
    return Response(body, status_code=status, headers=headers, media_type=media_type)


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    """The peer app; ``PEER_DATABASE_URL``, ``PEER_API_KEY``, ``PEER_POOL_SIZE`` (32)."""
    url = os.environ["PEER_DATABASE_URL"]
    size = int(os.environ.get("PEER_POOL_SIZE", "32"))
    state = State({"api_key": os.environ["PEER_API_KEY"].encode()})

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url, min_size=size, max_size=size, open=False
        )
        await pool.open(wait=True)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    return Litestar([debit_route, healthz], lifespan=[lifespan], state=state)


def prepare(database_url: str, wallets: Sequence[str], balance: int) -> None:
    """Create the peer's tables (empty) and its wallets, each with ``balance``."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("TRUNCATE peer_wallets, peer_debits")
        with conn.cursor() as cur, cur.copy("COPY peer_wallets (id, balance) FROM STDIN") as copy:
            for wallet_id in wallets:
                copy.write_row((wallet_id, balance))
        conn.execute("VACUUM ANALYZE peer_wallets")


def balances(database_url: str, wallets: Sequence[str]) -> dict[str, int]:
    """Each wallet's balance now (the checks after the load)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, balance FROM peer_wallets WHERE id = ANY(%s)", (list(wallets),)
        )
        return {str(r[0]): int(r[1]) for r in rows}
