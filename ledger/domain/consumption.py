"""Consumption policy v1: which grants a debit or hold draws on, in what order.

The order is owned by :func:`consumption_key`; allocations are recorded on events together
with :data:`POLICY_VERSION`, so changing this module never rewrites history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ledger.domain.state import Grant

__all__ = ["POLICY_VERSION", "allocate", "consumption_key", "usable_grants"]

POLICY_VERSION = 1

_NEVER = datetime.max.replace(tzinfo=UTC)


def consumption_key(grant: Grant) -> tuple[Any, ...]:
    """Sort key of policy v1; smaller keys are consumed first.

    1. lower ``priority`` first (0 is most urgent, default 100);
    2. earlier ``expires_at`` first; grants that never expire come last;
    3. free credits (promotional, trial, or a zero cost basis) before credits with a cost;
    4. earlier ``effective_at``, then earlier creation (``granted_version``), then ``grant_id``.

    The key is total: two distinct grants of one wallet never compare equal, because
    ``grant_id`` is unique within the wallet.
    """
    expires_at = grant.expires_at if grant.expires_at is not None else _NEVER
    return (
        grant.priority,
        grant.expires_at is None,
        expires_at,
        0 if grant.is_free() else 1,
        grant.effective_at,
        grant.granted_version,
        grant.grant_id,
    )


def usable_grants(grants: Iterable[Grant], at: datetime) -> list[Grant]:
    """Grants new consumption may draw on at ``at``, in consumption order."""
    return sorted((g for g in grants if g.is_usable(at)), key=consumption_key)


def allocate(
    grants: Iterable[Grant], amount: int, at: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Split ``amount`` over usable grants in policy order.

    Returns the allocations (``{"grant_id", "amount"}``, in consumption order) and the
    shortfall that no grant could cover (0 when fully covered). Never mutates the grants.
    """
    allocations: list[dict[str, Any]] = []
    left = amount
    for grant in usable_grants(grants, at):
        if left == 0:
            break
        take = min(left, grant.remaining)
        allocations.append({"grant_id": grant.grant_id, "amount": take})
        left -= take
    return allocations, left
