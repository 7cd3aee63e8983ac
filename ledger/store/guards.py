"""Facts a store checks inside a batch's own transaction (PostgreSQL): guards.

A fence (:class:`ledger.app.ports.Fence`, e.g. "the caller's API key is still the version
the API checked") is read by the committer before it decides a batch: one more round trip
per committed batch. A fence that can name its fact as a :class:`Guard` ("aggregate X has
no event past version v") lets a store that supports guards check it in the batch's
transaction instead, after the events table lock: the transaction fails whole
(:class:`GuardFailed`) if the aggregate moved on (decision 0027).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

__all__ = ["GUARD_FAILED_SQLSTATE", "Guard", "GuardFailed"]

GUARD_FAILED_SQLSTATE = "LG001"
"""The SQLSTATE a failed guard raises (a class of our own: no PostgreSQL error uses it)."""


@dataclass(frozen=True, slots=True)
class Guard:
    """The aggregate ``originator_id`` (in the home store) must still be at ``version``."""

    originator_id: UUID
    version: int


class GuardFailed(Exception):
    """A batch was not committed: one of its guards' aggregates had moved on."""
