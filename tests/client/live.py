"""What the client's real-server tests share: the rates of their price book, a wallet's
recorded events, and a real connection that counts what travels over it (requests per
(method, path) and their bodies, so a test can tell how many requests a client call made).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any

import httpx
from credit_ledger import Ledger, Usage

__all__ = [
    "RATES",
    "AsyncCountingTransport",
    "CountingTransport",
    "events_of",
    "rated",
]

INPUT, CACHED_INPUT, OUTPUT = 2000, 500, 8000
RATES = {
    "model": "gpt-4.1",
    "input_per_million": INPUT,
    "cached_input_per_million": CACHED_INPUT,
    "output_per_million": OUTPUT,
}


def rated(usage: Usage) -> int:
    """What the contract says ``usage`` costs at :data:`RATES`."""
    total = (
        usage.input_tokens * INPUT
        + usage.cached_input_tokens * CACHED_INPUT
        + usage.output_tokens * OUTPUT
    )
    return math.ceil(total / 1_000_000)


def events_of(ledger: Ledger, wallet_id: str, kind: str) -> list[dict[str, Any]]:
    """The data of the wallet's recorded events of type ``kind``, oldest first."""
    page = ledger.wallet_events(wallet_id, limit=1000)
    return [e.data for e in page.items if e.type == kind]


class CountingTransport(httpx.BaseTransport):
    """``httpx.HTTPTransport`` that counts each request and keeps its body."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.bodies: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.counts[request.method, request.url.path] += 1
            self.bodies.append((request.url.path, request.content))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` that counts each request and keeps its body."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.bodies: list[tuple[str, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.counts[request.method, request.url.path] += 1
        self.bodies.append((request.url.path, request.content))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
