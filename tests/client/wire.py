"""A real connection that counts what travels over it: requests per (method, path), so a
test against a real server can tell how many requests a client call made."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

__all__ = ["AsyncCountingTransport", "CountingTransport"]


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
