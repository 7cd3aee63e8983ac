"""Forwarding: a wallet command that arrives at a process not owning the wallet's shard is
handed, as received, to the process that owns it (:mod:`api.shard_owners`).

Only writes about one wallet move (``POST``/``PUT``/``PATCH``/``DELETE`` under
``/v1/wallets/{wallet_id}/…``): that is where two processes would collide on a hot wallet.
Opening a wallet, usage batches and reads are served where they land. The request goes
as-is — method, path, query, headers (``Authorization`` and ``Idempotency-Key`` included)
and body — plus ``Ledger-Forwarded``, and the owner's answer comes back as-is. The owner
authenticates, rate-limits and decides; a forwarded request is never forwarded again.

Failures, and why each answer is safe:

* the owner refuses the connection (it died): the shard is taken over
  (:meth:`ShardOwners.take_over`) and the request is decided here — nothing was sent, so
  nothing can have been done twice;
* the connection fails after the request was sent, or the owner does not answer within
  :data:`ANSWER_SECONDS`: the owner may have committed, so the answer is 503 ``overloaded``
  ("retry with the same idempotency key"), exactly as for a commit whose acknowledgement is
  lost; the retry finds the receipt.

Spending commands (debits, refunds, holds) do not move as HTTP: they are handled here and
only their decision moves, over the owner channel (:mod:`api.owner_link`); everything else
under a wallet moves as described above.

Connections to each owner are kept alive and reused (HTTP/1.1, parsed with ``httptools``);
an idle one is dropped before the server's keep-alive timeout (uvicorn: 5 s) could close it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import httptools
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, HTTPReceiveMessage, HTTPScope, Message, Receive, Scope, Send

from api.owner_link import LINKS_KEY, VIA_OWNER, ViaOwner, via_owner
from api.shard_owners import ShardOwners
from ledger.app.shards import shard_of
from ledger.domain.errors import Overloaded

__all__ = [
    "ANSWER_SECONDS",
    "FORWARDED_HEADER",
    "OWNERS_KEY",
    "Forwarder",
    "forwarding_middleware",
    "owners_of",
    "wallet_of",
]

OWNERS_KEY = "shard_owners"
"""Where the app keeps its :class:`~api.shard_owners.ShardOwners` (absent: no forwarding)."""
FORWARDED_HEADER = b"ledger-forwarded"
CONNECT_SECONDS = 1.0
ANSWER_SECONDS = 15.0
"""Longer than the committer's own wait (10 s), so the owner's ``overloaded`` comes first."""
IDLE_SECONDS = 2.0
DOWN_SECONDS = 2.0
"""After a refused connection, requests for that owner are decided here for this long."""
MAX_IDLE = 64
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PREFIX = "/v1/wallets/"
_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"expect",
     b"date", b"server", b"upgrade", b"te", b"trailer", b"proxy-connection"}
)  # fmt: skip


def wallet_of(method: str, path: str) -> str | None:
    """The wallet a request writes to, if it is a write under ``/v1/wallets/{id}/``."""
    if method not in _WRITES or not path.startswith(_PREFIX):
        return None
    rest = path[len(_PREFIX) :]
    segment, slash, _ = rest.partition("/")
    return unquote(segment) if segment and slash else None


class _SentAndLost(Exception):
    """The request was (maybe) delivered but no full answer came back."""


class _Refused(Exception):
    """No connection could be made: nothing was delivered."""


@dataclass
class _Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    used: float


class Forwarder:
    """Keep-alive HTTP/1.1 connections to the owners, one idle pool per owner URL."""

    def __init__(self) -> None:
        self._idle: dict[str, list[_Connection]] = {}

    async def send(self, url: str, head: bytes, body: bytes) -> _Answer:
        """Send one request to ``url``; raises ``_Refused`` or ``_SentAndLost``."""
        reused = self._take(url)
        if reused is not None:
            try:
                return await self._exchange(url, reused, head, body)
            except _SentAndLost as lost:
                if not lost.args or lost.args[0] != "closed before any byte":
                    raise
                # The owner closed an idle connection as we sent: it never read the request.
        return await self._exchange(url, await self._connect(url), head, body)

    def _take(self, url: str) -> _Connection | None:
        pool = self._idle.get(url)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            if now - conn.used < IDLE_SECONDS and not conn.writer.is_closing():
                return conn
            conn.writer.close()
        return None

    async def _connect(self, url: str) -> _Connection:
        parts = urlsplit(url)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port or 80), CONNECT_SECONDS
            )
        except (OSError, TimeoutError) as error:
            raise _Refused(str(error)) from error
        return _Connection(reader, writer, time.monotonic())

    async def _exchange(self, url: str, conn: _Connection, head: bytes, body: bytes) -> _Answer:
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        received = 0
        try:
            conn.writer.write(head + body)
            async with asyncio.timeout(ANSWER_SECONDS):
                await conn.writer.drain()
                while not answer.complete:
                    data = await conn.reader.read(65536)
                    if not data:
                        reason = "closed before any byte" if received == 0 else "closed"
                        raise _SentAndLost(reason)
                    received += len(data)
                    parser.feed_data(data)
        except _SentAndLost:
            conn.writer.close()
            raise
        except (OSError, TimeoutError, httptools.HttpParserError) as error:
            conn.writer.close()
            raise _SentAndLost(str(error)) from error
        answer.status = parser.get_status_code()
        if parser.should_keep_alive():
            conn.used = time.monotonic()
            pool = self._idle.setdefault(url, [])
            if len(pool) < MAX_IDLE:
                pool.append(conn)
            else:
                conn.writer.close()
        else:
            conn.writer.close()
        return answer

    def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.writer.close()
        self._idle.clear()


def _head(scope: HTTPScope, body_length: int) -> bytes:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    target = path + (b"?" + query if query else b"")
    lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in scope["headers"] if name not in _HOP]
    lines += [b"content-length: " + str(body_length).encode(), FORWARDED_HEADER + b": 1"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole request body, and False if it grew past ``limit`` (then it is not sent on)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), size <= limit


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then whatever the client sends next."""
    sent = False

    async def replay() -> HTTPReceiveMessage:
        nonlocal sent
        if sent:
            message: Any = await receive()
            return cast("HTTPReceiveMessage", message)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class ForwardingMiddleware:
    """Hands a wallet write to its shard's owner when that is another process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.forwarder = Forwarder()
        self._down: dict[str, float] = {}
        """Owners that refused a connection, until when: decided here meanwhile."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        owners: ShardOwners | None = None
        if scope["type"] == ScopeType.HTTP:
            owners = scope["app"].state.get(OWNERS_KEY)
        if owners is None or scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        await self._route(scope, receive, send, owners)

    async def _route(
        self, scope: HTTPScope, receive: Receive, send: Send, owners: ShardOwners
    ) -> None:
        wallet = wallet_of(scope["method"], scope["path"])
        if wallet is None or any(name == FORWARDED_HEADER for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        shard = shard_of(wallet, owners.shards)
        url = owners.owner_url(shard)
        if url is not None and self._down.get(url, 0.0) > time.monotonic():
            url = None
        if url is None:
            await self.app(scope, receive, send)
            return
        via = via_owner(scope, scope["app"].state.get(LINKS_KEY), owners, shard, url)
        if via is not None:  # a spending command: handled here, decided by the owner
            token = VIA_OWNER.set(via)
            try:
                await self.app(scope, receive, send)
            finally:
                VIA_OWNER.reset(token)
            return
        limit = scope["app"].request_max_body_size
        limit = limit if isinstance(limit, int) else 1 << 20
        body, whole = await _read_body(receive, limit)
        if whole:
            try:
                answer = await self.forwarder.send(url, _head(scope, len(body)), body)
            except _Refused:
                self._down[url] = time.monotonic() + DOWN_SECONDS
                await anyio.to_thread.run_sync(owners.take_over, shard, url)
            except _SentAndLost as error:
                raise Overloaded(
                    "the shard's owner did not answer; retry with the same idempotency key"
                ) from error
            else:
                await _answer(send, answer)
                return
        await self.app(scope, _replaying(body, receive), send)


def owners_of(scope: HTTPScope, wallet_ids: Sequence[str]) -> list[ViaOwner | None] | None:
    """For each wallet, the owner channel its spending commands are decided through (None:
    here), as the forwarding middleware finds it for a request about one wallet; None
    when this process is not in a fleet. For ``POST /v1/batch``, whose operations name
    their wallets in the body."""
    state = scope["app"].state
    owners: ShardOwners | None = state.get(OWNERS_KEY)
    links = state.get(LINKS_KEY)
    if owners is None or links is None:
        return None
    by_shard: dict[int, ViaOwner | None] = {}
    found: list[ViaOwner | None] = []
    for wallet_id in wallet_ids:
        shard = shard_of(wallet_id, owners.shards)
        if shard not in by_shard:
            url = owners.owner_url(shard)
            by_shard[shard] = None if url is None else via_owner(scope, links, owners, shard, url)
        found.append(by_shard[shard])
    return found


async def _answer(send: Callable[[Message], Awaitable[None]], answer: _Answer) -> None:
    headers: list[tuple[bytes, bytes]] = [(n, v) for n, v in answer.headers if n not in _HOP]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    start: Any = {"type": "http.response.start", "status": answer.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": bytes(answer.body), "more_body": False})


def forwarding_middleware() -> DefineMiddleware:
    """Forwarding, placed before authentication (the owner authenticates)."""
    return DefineMiddleware(ForwardingMiddleware)
