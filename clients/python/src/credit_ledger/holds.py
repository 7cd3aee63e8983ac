"""Holds as context managers: a hold is always captured or released.

    with ledger.hold("acme", usage=estimate, subject={"user_id": "u1"}) as h:
        answer = call_the_model()
        h.capture(usage=usage_from_openai(answer["usage"], model="gpt-4.1"))

Entering places the hold (a refusal raises, and the block does not run). Leaving the block
without a capture, or with an exception, releases it; a release that fails is logged, not
raised over the block's own outcome: the hold expires by itself in any case.

Under ``on_unavailable="open"`` a hold the ledger could not place is *deferred*: the block
runs, nothing is reserved, and its capture is journaled as a debit (dated now, keyed by the
capture's key) to be replayed when the service answers; its release records nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, cast

from credit_ledger.base import D
from credit_ledger.calls import Call, decode_as, json_body, new_key, segment
from credit_ledger.errors import HoldNotOpen, LedgerError
from credit_ledger.models import Capture, Debit, Deferred, PlacedHold, Release
from credit_ledger.ops_spending import capture_hold, release_hold
from credit_ledger.usage import Usage

if TYPE_CHECKING:
    from credit_ledger.aio import AsyncLedger
    from credit_ledger.client import Ledger

__all__ = ["AsyncHoldScope", "HoldScope"]

log = logging.getLogger("credit_ledger")


class _Scope:
    """The state both scopes keep: the placing call and what became of it."""

    def __init__(self, place: Call[PlacedHold]) -> None:
        self._place = place
        self.placed: PlacedHold | None = None
        self.deferred: Deferred | None = None
        self.resolved = False

    @property
    def hold_id(self) -> str | None:
        """The hold's id on the server (None for a deferred hold)."""
        return None if self.placed is None else self.placed.hold_id

    @property
    def wallet_id(self) -> str:
        return self._place.wallet_id or ""

    def _entered(self, result: PlacedHold | Deferred) -> None:
        if isinstance(result, Deferred):
            self.deferred = result
        else:
            self.placed = result

    def _resolve(self) -> None:
        if self.placed is None and self.deferred is None:
            raise RuntimeError("the hold is not placed yet: use it inside its with block")
        if self.resolved:
            raise RuntimeError("the hold was captured or released already")
        self.resolved = True

    def _capture_call(
        self, amount: int | None, usage: Usage | None, allow_overage: bool | None, key: str | None
    ) -> Call[Capture]:
        assert self.placed is not None  # noqa: S101 - only asked for a placed hold
        return capture_hold(
            self.wallet_id,
            self.placed.hold_id,
            amount=amount,
            usage=usage,
            allow_overage=allow_overage,
            idempotency_key=key,
        )

    def _release_call(self, key: str | None) -> Call[Release]:
        assert self.placed is not None  # noqa: S101 - only asked for a placed hold
        return release_hold(self.wallet_id, self.placed.hold_id, idempotency_key=key)

    def _deferred_debit(
        self, amount: int | None, usage: Usage | None, key: str | None
    ) -> Call[Debit]:
        """The capture of a deferred hold: a debit of what was used (what was estimated if
        nothing is said), for the hold's subject, dated now."""
        place = self._place.body or {}
        spent = json_body(amount=amount, usage=usage) or {
            k: place[k] for k in ("amount", "usage") if place.get(k) is not None
        }
        body = {
            **spent,
            **json_body(subject=place.get("subject"), metadata=place.get("metadata")),
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        return Call(
            "POST",
            f"/v1/wallets/{segment(self.wallet_id)}/debits",
            decode_as(Debit),
            body=body,
            idempotency_key=key or new_key(),
            wallet_id=self.wallet_id,
            batch_op="debit",
        )

    def _release_failed(self, error: LedgerError, exc: BaseException | None) -> None:
        if isinstance(error, HoldNotOpen):
            return  # expired (or resolved) already: nothing is held any more
        note = f"releasing hold {self.hold_id!r} of wallet {self.wallet_id!r} failed: {error}"
        if exc is not None:
            exc.add_note(note)
        log.warning("%s; it is released when it expires", note)


class HoldScope(_Scope, Generic[D]):
    """A hold placed on entering ``with``, released on leaving unless captured."""

    def __init__(self, ledger: Ledger[D], place: Call[PlacedHold]) -> None:
        super().__init__(place)
        self._ledger = ledger

    def __enter__(self) -> Self:
        self._entered(cast("PlacedHold | Deferred", self._ledger._spend(self._place)))
        return self

    def capture(
        self,
        amount: int | None = None,
        *,
        usage: Usage | None = None,
        allow_overage: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Capture | D:
        """Consume ``amount`` (or what ``usage`` rates to; the whole hold if neither) and
        release the rest. For a deferred hold: journal the debit, return a Deferred."""
        self._resolve()
        if self.placed is None:
            debit = self._deferred_debit(amount, usage, idempotency_key)
            return cast("D", self._ledger._journal_deferred(debit, "debit"))
        call = self._capture_call(amount, usage, allow_overage, idempotency_key)
        return self._ledger._spend(call)

    def release(self, *, idempotency_key: str | None = None) -> Release | D:
        """Give everything back now (leaving the block does this by itself)."""
        self._resolve()
        if self.placed is None:
            return cast("D", self.deferred)
        return self._ledger._spend(self._release_call(idempotency_key))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.resolved or (self.placed is None and self.deferred is None):
            return
        try:
            self.release()
        except LedgerError as error:
            self._release_failed(error, exc)


class AsyncHoldScope(_Scope, Generic[D]):
    """:class:`HoldScope` for ``async with``."""

    def __init__(self, ledger: AsyncLedger[D], place: Call[PlacedHold]) -> None:
        super().__init__(place)
        self._ledger = ledger

    async def __aenter__(self) -> Self:
        self._entered(cast("PlacedHold | Deferred", await self._ledger._spend(self._place)))
        return self

    async def capture(
        self,
        amount: int | None = None,
        *,
        usage: Usage | None = None,
        allow_overage: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Capture | D:
        self._resolve()
        if self.placed is None:
            debit = self._deferred_debit(amount, usage, idempotency_key)
            return cast("D", self._ledger._journal_deferred(debit, "debit"))
        call = self._capture_call(amount, usage, allow_overage, idempotency_key)
        return await self._ledger._spend(call)

    async def release(self, *, idempotency_key: str | None = None) -> Release | D:
        self._resolve()
        if self.placed is None:
            return cast("D", self.deferred)
        return await self._ledger._spend(self._release_call(idempotency_key))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.resolved or (self.placed is None and self.deferred is None):
            return
        try:
            await self.release()
        except LedgerError as error:
            self._release_failed(error, exc)
