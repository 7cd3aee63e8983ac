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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

__all__ = ["Decision", "Outcome", "StripedLocks", "backoff_seconds"]


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
