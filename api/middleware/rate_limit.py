"""Per-key rate limits: a token bucket per API key id, answered with 429 ``rate_limited``.

Each key may send ``LEDGER_RATE_LIMIT_PER_SECOND`` requests a second on average and up to
``LEDGER_RATE_LIMIT_BURST`` at once; a rate of 0 switches limiting off. The buckets live in
the API process, so with several workers (or several hosts) each process limits on its own:
a key may send up to ``workers`` times the rate in all. Shared limits would need a shared
store on the request path, which would cost more than the abuse they prevent here.

The map of buckets is bounded (:data:`MAX_TRACKED_KEYS`, least recently used evicted first):
a flood of distinct keys cannot grow the process. Only authenticated requests are limited
(the key id comes from the authentication middleware); health checks, metrics and the
OpenAPI document carry no key and pass.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from api.errors import RateLimited
from api.middleware.auth import Principal
from api.settings import Settings

__all__ = [
    "MAX_TRACKED_KEYS",
    "RATE_LIMITER_KEY",
    "RateLimitMiddleware",
    "TokenBuckets",
    "rate_limit_middleware",
    "rate_limiter",
]

RATE_LIMITER_KEY = "rate_limiter"
"""Where the app keeps its :class:`TokenBuckets` (``app.state``); None when limiting is off."""
MAX_TRACKED_KEYS = 10_000
"""Buckets kept at once; an evicted key comes back with a full bucket."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBuckets:
    """One token bucket per key id, refilled at ``rate_per_second`` up to ``burst`` tokens.

    Only the event loop calls :meth:`take`, so the buckets need no lock.
    """

    rate_per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = MAX_TRACKED_KEYS
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.burst < 1 or self.max_keys < 1:
            raise ValueError("a rate limit needs a positive rate, burst and key count")

    def take(self, key_id: str) -> int | None:
        """Spend one token of ``key_id``: None if there was one, else seconds to wait (≥ 1)."""
        now = self.clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key_id)
            # max(): a clock that stepped back must not drain the bucket.
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_second))

    def __len__(self) -> int:
        return len(self._buckets)


def rate_limiter(
    settings: Settings, clock: Callable[[], float] = time.monotonic
) -> TokenBuckets | None:
    """The buckets ``settings`` ask for; None when the rate is 0 (limiting off)."""
    if settings.rate_limit_per_second <= 0:
        return None
    return TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst, clock)


class RateLimitMiddleware:
    """Refuses a request whose key has no token left; place it inside authentication."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("user")
        if scope["type"] == ScopeType.HTTP and isinstance(principal, Principal):
            state: State = scope["app"].state
            buckets = state.get(RATE_LIMITER_KEY)
            if isinstance(buckets, TokenBuckets):
                wait = buckets.take(principal.key_id)
                if wait is not None:
                    raise RateLimited(
                        f"this API key is limited to {buckets.rate_per_second:g} requests a"
                        f" second (bursts of {buckets.burst}); retry after {wait} s",
                        wait,
                    )
        await self.app(scope, receive, send)


def rate_limit_middleware() -> DefineMiddleware:
    """The rate limit, to follow the authentication middleware in the stack."""
    return DefineMiddleware(RateLimitMiddleware)
