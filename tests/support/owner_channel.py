"""Harness of the owner channel tests (no tests here): an owner and a receiving app in one
process.

The owner is a real :class:`~api.owner_channel.ChannelServer` on its own event loop in a
thread (as in another process); the receiving app is the real app, told by
:class:`FakeOwners` that another process owns every shard and listens at that channel.
Both sit on the same in-memory ledger, as two processes sit on the same store.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from api.forwarding import OWNERS_KEY
from api.middleware.key_cache import KeyCache
from api.owner_channel import ChannelServer
from api.owner_link import LINKS_KEY, OwnerLinks
from ledger.app.service import CreditLedger
from tests.support.api import Api

__all__ = ["FakeOwners", "OwnerThread", "owner_thread", "route_to"]

TOKEN = "test-channel-token"  # noqa: S105 - not a secret
OWNER_URL = "http://127.0.0.1:9"
"""The owner's HTTP address: nothing listens there (only the channel is used)."""


@dataclass
class FakeOwners:
    """Every shard owned by another process at ``channel`` while ``forwarding`` is on."""

    channel: str
    shards: int = 1
    forwarding: bool = True
    taken: list[tuple[int, str]] = field(default_factory=list)

    def owner_url(self, shard: int) -> str | None:
        return OWNER_URL if self.forwarding and (shard, OWNER_URL) not in self.taken else None

    def owner_channel(self, shard: int) -> str | None:
        return self.channel if self.owner_url(shard) is not None else None

    def take_over(self, shard: int, dead_url: str) -> None:
        self.taken.append((shard, dead_url))


class OwnerThread:
    """A channel server on ``ledger``, on an event loop of its own."""

    def __init__(self, ledger: CreditLedger, token: str = TOKEN) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = ChannelServer(ledger, KeyCache(), token)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        port = self.call(self.server.start("127.0.0.1", 0))
        self.channel = f"ledger-channel://{token}@127.0.0.1:{port}"

    def call(self, coroutine: Coroutine[Any, Any, int]) -> int:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def drop_connections(self) -> None:
        """Cut every connection at once, as a killed process does (nothing more is sent)."""

        async def drop() -> None:
            for connection in list(self.server.connections):
                connection.abort()

        asyncio.run_coroutine_threadsafe(drop(), self.loop).result(10)

    def wait_in_flight(self, count: int, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while self.server.in_flight < count:
            assert time.monotonic() < deadline, "the owner never got the command"
            time.sleep(0.01)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def owner_thread(ledger: CreditLedger, token: str = TOKEN) -> Iterator[OwnerThread]:
    owner = OwnerThread(ledger, token)
    try:
        yield owner
    finally:
        owner.close()


def route_to(api: Api, channel: str) -> FakeOwners:
    """Make ``api``'s app send every spending command to the owner at ``channel``."""
    owners = FakeOwners(channel)
    api.client.app.state[OWNERS_KEY] = owners
    api.client.app.state[LINKS_KEY] = OwnerLinks()
    return owners
