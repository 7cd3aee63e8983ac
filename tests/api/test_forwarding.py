"""Forwarding a wallet write to its shard's owner (``api.forwarding``, decision 0016).

The owner here is a bare asyncio server that records what it received and answers a fixed
response; the process's own app is a stub ASGI app that answers "local".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from api.forwarding import OWNERS_KEY, ForwardingMiddleware, wallet_of
from ledger.app.shards import shard_of
from ledger.domain.errors import Overloaded
from tests.support.live_server import free_port

OWNER_ANSWER = (
    b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nledger-position: 7\r\n"
    b'content-length: 11\r\n\r\n{"ok":true}'
)


@dataclass
class FakeOwners:
    url: str
    shards: int = 4
    taken: list[tuple[int, str]] = field(default_factory=list)

    def owner_url(self, shard: int) -> str | None:
        return None if (shard, self.url) in self.taken else self.url

    def take_over(self, shard: int, dead_url: str) -> None:
        self.taken.append((shard, dead_url))


@dataclass
class FakeApp:
    state: dict[str, Any]
    request_max_body_size: int = 1 << 20


def _scope(owners: FakeOwners, path: str, method: str = "POST", **extra: Any) -> dict[str, Any]:
    headers = [
        (b"authorization", b"Bearer secret-key"),
        (b"idempotency-key", b"k-1"),
        (b"content-type", b"application/json"),
        (b"content-length", b"12"),
        *extra.get("headers", []),
    ]
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "app": FakeApp({OWNERS_KEY: owners}),
    }


async def _call(scope: dict[str, Any], body: bytes = b'{"amount":5}') -> tuple[list[Any], bool]:
    local = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal local
        local = True
        message = await receive()
        assert message["body"] == body  # the body reaches the local app unchanged
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"local"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await ForwardingMiddleware(app)(scope, receive, send)  # type: ignore[arg-type]
    return sent, local


async def _owner(answer: bytes | None, received: list[bytes]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in data.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        received.append(data + await reader.readexactly(length))
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_only_writes_under_a_wallet_name_a_wallet() -> None:
    assert wallet_of("POST", "/v1/wallets/acme%2Fteam/debits") == "acme/team"
    assert wallet_of("PUT", "/v1/wallets/w1/alert-settings") == "w1"
    assert wallet_of("GET", "/v1/wallets/w1/debits") is None  # reads are served anywhere
    assert wallet_of("POST", "/v1/wallets") is None  # opening: the id is in the body
    assert wallet_of("POST", "/v1/usage-events") is None


def test_a_write_for_another_owner_is_forwarded_as_is_and_its_answer_returned() -> None:
    async def scenario() -> tuple[list[Any], bool, list[bytes]]:
        received: list[bytes] = []
        server = await _owner(OWNER_ANSWER, received)
        port = server.sockets[0].getsockname()[1]
        async with server:
            owners = FakeOwners(f"http://127.0.0.1:{port}")
            sent, local = await _call(_scope(owners, "/v1/wallets/w1/debits"))
        return sent, local, received

    sent, local, received = asyncio.run(scenario())
    assert not local
    request = received[0]
    assert request.startswith(b"POST /v1/wallets/w1/debits HTTP/1.1\r\n")
    assert b"authorization: Bearer secret-key" in request  # the owner authenticates
    assert b"idempotency-key: k-1" in request
    assert b"ledger-forwarded: 1" in request
    assert request.endswith(b'\r\n\r\n{"amount":5}')
    assert sent[0]["status"] == 201
    assert (b"ledger-position", b"7") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"ok":true}'


def test_a_forwarded_request_is_decided_here_never_forwarded_again() -> None:
    owners = FakeOwners(f"http://127.0.0.1:{free_port()}")
    scope = _scope(owners, "/v1/wallets/w1/debits", headers=[(b"ledger-forwarded", b"1")])
    sent, local = asyncio.run(_call(scope))
    assert local
    assert sent[0]["status"] == 299
    assert owners.taken == []


def test_an_owner_refusing_connections_is_taken_over_and_the_request_decided_here() -> None:
    owners = FakeOwners(f"http://127.0.0.1:{free_port()}")  # nobody listens there
    sent, local = asyncio.run(_call(_scope(owners, "/v1/wallets/w1/debits")))
    assert local
    assert sent[1]["body"] == b"local"
    assert owners.taken == [(shard_of("w1", 4), owners.url)]


def test_an_owner_that_took_the_request_and_did_not_answer_means_overloaded() -> None:
    """It may have committed: deciding here could do it twice; the client retries with its
    idempotency key instead."""

    async def scenario() -> None:
        server = await _owner(None, [])  # reads the request, closes without an answer
        port = server.sockets[0].getsockname()[1]
        async with server:
            await _call(_scope(FakeOwners(f"http://127.0.0.1:{port}"), "/v1/wallets/w1/debits"))

    with pytest.raises(Overloaded):
        asyncio.run(scenario())
