"""Spending operations: debits, refunds, holds and ``POST /v1/batch``.

Debits and the three hold commands are the calls the availability policy may defer and
the micro-batcher may carry in one batch (``Call.batch_op``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from credit_ledger.admin import BatchResult
from credit_ledger.calls import (
    Call,
    decode_as,
    decode_items,
    decode_page,
    json_body,
    new_key,
    query,
    segment,
)
from credit_ledger.models import (
    Capture,
    Debit,
    DebitDetail,
    DebitSummary,
    Hold,
    PlacedHold,
    Refund,
    Release,
)
from credit_ledger.reports import Order, Page
from credit_ledger.usage import Subject, Usage

__all__ = [
    "MAX_BATCH",
    "batch",
    "capture_hold",
    "debit",
    "get_debit",
    "get_hold",
    "list_debits",
    "list_holds",
    "place_hold",
    "refund",
    "release_hold",
]

MAX_BATCH = 1000
"""Operations one ``POST /v1/batch`` may carry (contract 1.1)."""


def _wallet(wallet_id: str) -> str:
    return f"/v1/wallets/{segment(wallet_id)}"


def _amount_or_usage(amount: int | None, usage: Usage | None, *, required: bool = True) -> None:
    if amount is not None and usage is not None:
        raise ValueError("give amount or usage, not both")
    if required and amount is None and usage is None:
        raise ValueError("give amount or usage")


def debit(
    wallet_id: str,
    amount: int | None = None,
    *,
    usage: Usage | None = None,
    subject: Subject | None = None,
    occurred_at: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[Debit]:
    """Authorize and deduct ``amount``, or what ``usage`` rates to, in one decision.

    Raises :class:`~credit_ledger.InsufficientCredits` or
    :class:`~credit_ledger.BudgetExceeded` when refused (nothing is recorded then).
    """
    _amount_or_usage(amount, usage)
    body = json_body(
        amount=amount, usage=usage, subject=subject, occurred_at=occurred_at, metadata=metadata
    )
    return Call(
        "POST",
        f"{_wallet(wallet_id)}/debits",
        decode_as(Debit),
        body=body,
        idempotency_key=idempotency_key or new_key(),
        wallet_id=wallet_id,
        batch_op="debit",
    )


def refund(
    wallet_id: str,
    debit_id: str,
    *,
    amount: int | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Call[Refund]:
    """Give credits of a debit back (all that is left of it by default)."""
    path = f"{_wallet(wallet_id)}/debits/{segment(debit_id)}/refunds"
    body = json_body(amount=amount, reason=reason)
    key = idempotency_key or new_key()
    return Call(
        "POST", path, decode_as(Refund), body=body, idempotency_key=key, wallet_id=wallet_id
    )


def list_debits(
    wallet_id: str,
    *,
    after: int | None = None,
    limit: int | None = None,
    order: Order | None = None,
    min_position: int | None = None,
) -> Call[Page[DebitSummary, int]]:
    """A page of the wallet's debits (contract 1.1): debits and billed usage events in the
    order they were decided (``order="desc"``: newest first), each with what refunds gave
    back of it so far. ``next_after`` is the last item's ``position``. Pass
    ``min_position`` (``ledger.last_position``) to include a debit just made."""
    path = f"{_wallet(wallet_id)}/debits"
    params = query(after=after, limit=limit, order=order, min_position=min_position)
    return Call("GET", path, decode_page(DebitSummary, "debits"), params=params)


def get_debit(
    wallet_id: str, debit_id: str, *, min_position: int | None = None
) -> Call[DebitDetail]:
    """One debit with its allocations and every refund of it (contract 1.1). Raises
    :class:`~credit_ledger.DebitNotFound` for a debit the wallet does not have; pass
    ``min_position`` for a debit just made."""
    path = f"{_wallet(wallet_id)}/debits/{segment(debit_id)}"
    return Call("GET", path, decode_as(DebitDetail), params=query(min_position=min_position))


def place_hold(
    wallet_id: str,
    amount: int | None = None,
    *,
    usage: Usage | None = None,
    hold_id: str | None = None,
    subject: Subject | None = None,
    expires_at: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[PlacedHold]:
    """Reserve ``amount``, or what ``usage`` rates to, until captured, released or expired
    (default 15 minutes). Prefer :meth:`Ledger.hold`, which always resolves the hold."""
    _amount_or_usage(amount, usage)
    body = json_body(
        amount=amount,
        usage=usage,
        hold_id=hold_id,
        subject=subject,
        expires_at=expires_at,
        metadata=metadata,
    )
    return Call(
        "POST",
        f"{_wallet(wallet_id)}/holds",
        decode_as(PlacedHold),
        body=body,
        idempotency_key=idempotency_key or new_key(),
        wallet_id=wallet_id,
        batch_op="hold",
    )


def capture_hold(
    wallet_id: str,
    hold_id: str,
    *,
    amount: int | None = None,
    usage: Usage | None = None,
    allow_overage: bool | None = None,
    idempotency_key: str | None = None,
) -> Call[Capture]:
    """Consume ``amount`` (or what ``usage`` rates to; all of the hold if neither) and
    release the rest."""
    _amount_or_usage(amount, usage, required=False)
    body = json_body(amount=amount, usage=usage, allow_overage=allow_overage)
    return Call(
        "POST",
        f"{_wallet(wallet_id)}/holds/{segment(hold_id)}/capture",
        decode_as(Capture),
        body=body,
        idempotency_key=idempotency_key or new_key(),
        wallet_id=wallet_id,
        hold_id=hold_id,
        batch_op="capture",
    )


def release_hold(
    wallet_id: str, hold_id: str, *, idempotency_key: str | None = None
) -> Call[Release]:
    """Give everything the hold reserved back."""
    return Call(
        "POST",
        f"{_wallet(wallet_id)}/holds/{segment(hold_id)}/release",
        decode_as(Release),
        idempotency_key=idempotency_key or new_key(),
        wallet_id=wallet_id,
        hold_id=hold_id,
        batch_op="release",
    )


def get_hold(wallet_id: str, hold_id: str) -> Call[Hold]:
    return Call("GET", f"{_wallet(wallet_id)}/holds/{segment(hold_id)}", decode_as(Hold))


def list_holds(
    wallet_id: str,
    *,
    status: Literal["open", "captured", "released", "expired"] | None = None,
    after: int | None = None,
    limit: int | None = None,
    order: Order | None = None,
    min_position: int | None = None,
) -> Call[Page[Hold, int]]:
    """A page of the wallet's holds in the order they were placed (``order="desc"``:
    newest first), optionally of one ``status`` now (contract 1.1); a hold past its
    ``expires_at`` is ``expired``. ``next_after`` is the last item's ``position``."""
    params = query(status=status, after=after, limit=limit, order=order, min_position=min_position)
    return Call("GET", f"{_wallet(wallet_id)}/holds", decode_page(Hold, "holds"), params=params)


def batch(operations: Iterable[Mapping[str, Any]]) -> Call[list[BatchResult]]:
    """Many decisions in one request (contract 1.1): each operation is a dict as in the
    contract (``op``, ``wallet_id``, ...), decided independently, answered in order.

    An operation without ``idempotency_key`` gets a fresh one here, so retrying the batch
    never decides anything twice.
    """
    ops = [{**op, "idempotency_key": op.get("idempotency_key") or new_key()} for op in operations]
    if len(ops) > MAX_BATCH:
        raise ValueError(f"a batch carries at most {MAX_BATCH} operations, not {len(ops)}")
    return Call(
        "POST",
        "/v1/batch",
        decode_items(BatchResult, "results"),
        body={"operations": ops},
        # Every operation carries its key: repeating the request repeats no decision.
        idempotent=True,
    )
