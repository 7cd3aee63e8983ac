"""The write loop: decide on fresh state, save atomically, re-decide on conflict.

One command = one call of ``decide`` against the wallet as stored now, then one atomic save
of the wallet, the hold records it touched and the command's receipt. A conflict on any of
their ``(id, version)`` keys means someone else wrote first: the *command* is decided again
on fresh state (a precomputed debit is never replayed), at most ``max_attempts`` times.
In one process, commands on one wallet are serialised by a striped lock so they queue
instead of colliding; across processes, the store's unique key decides.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

__all__ = [
    "CONTENTION_SECONDS",
    "MAX_ATTEMPTS_EVER",
    "Decision",
    "Outcome",
    "StripedLocks",
    "backoff_seconds",
    "out_of_attempts",
]

CONTENTION_SECONDS = 2.0
"""How long the group-commit writer re-decides what another process keeps changing.

A count alone ran out too soon: two owners of a shard (a lease that just moved, decision
0016) write its hot wallet for up to a lease round (1 s), while eight attempts with backoff
capped at 50 ms last ~0.1-0.2 s."""
MAX_ATTEMPTS_EVER = 64
"""The bound on attempts whatever the time (each is a store round trip)."""


@dataclass
class Decision:
    """What ``decide`` returns: the result body and the aggregates with pending events."""

    body: dict[str, Any]
    aggregates: Sequence[Aggregate]
    wallet_version: int | None = None


@dataclass(frozen=True)
class Outcome:
    """A command's result; ``replayed`` when it is the stored result of an earlier call."""

    body: dict[str, Any]
    replayed: bool = False
    position: int | None = None


class StripedLocks:
    """A fixed set of locks; a key always maps to the same one (bounded memory)."""

    def __init__(self, stripes: int = 1024) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def for_key(self, key: str) -> threading.Lock:
        return self._locks[hash(key) % len(self._locks)]


def backoff_seconds(attempt: int) -> float:
    """Jittered exponential backoff, capped at 50 ms, so colliding writers spread out."""
    return random.uniform(0, min(0.05, 0.001 * 2**attempt))  # noqa: S311 - jitter, not crypto


def out_of_attempts(attempt: int, at_least: int, deadline: float) -> bool:
    """Stop after ``attempt`` attempts? Not before ``at_least``; then once the monotonic
    ``deadline`` has passed, or at :data:`MAX_ATTEMPTS_EVER`."""
    return attempt >= at_least and (attempt >= MAX_ATTEMPTS_EVER or time.monotonic() >= deadline)
