"""The closed set of ledger errors, each with a stable snake_case ``code``.

Every error a command can raise is a subclass of :class:`LedgerError`. The API maps each class
to one HTTP status in a single table; clients rely on ``code`` and on the extra members that
:meth:`LedgerError.details` returns, so both are part of the public contract.

Precedence: when a request is wrong in several ways, the first matching check wins, in this
documented order (TigerBeetle style, so clients can rely on which error they see):

1. ``validation_error`` — malformed input (amounts, times, ids, subject keys, periods, usage,
   rates);
2. ``wallet_not_found`` / ``wallet_exists`` (and ``price_book_not_found`` for price book reads);
3. ``idempotency_conflict`` — the key was used before for a different request (a repeat of
   the same request returns the first result instead of any error);
4. rating ``usage`` against the wallet's price book: ``unknown_model``, or a
   ``validation_error`` naming ``usage`` for what only the price book can tell (its unit is not
   the wallet's; the usage rates to 0 or to more than the largest amount). These depend on
   stored state, so, like every refusal below, they yield to the key's earlier result;
5. the addressed object: ``grant_not_found``, ``grant_exists``, ``grant_not_voidable``,
   ``hold_not_found``, ``hold_exists``, ``hold_not_open``, ``capture_exceeds_hold``,
   ``debit_not_found``, ``refund_exceeds_debit``, ``budget_not_found``,
   ``allowance_not_found``;
6. ``budget_exceeded`` — a hard budget refuses (budgets sorted by ``budget_id``);
7. ``insufficient_credits`` — the balance (plus overdraft, for overage) does not cover it;
8. ``contention`` — the command could not be committed within its bounded retries, or
   ``overloaded`` — the write queue is full or the answer did not come in time (both
   transient: retry with the same idempotency key, which makes the retry safe).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "AllowanceNotFound",
    "BudgetExceeded",
    "BudgetNotFound",
    "CaptureExceedsHold",
    "Contention",
    "DebitNotFound",
    "FieldError",
    "GrantExists",
    "GrantNotFound",
    "GrantNotVoidable",
    "HoldExists",
    "HoldNotFound",
    "HoldNotOpen",
    "IdempotencyConflict",
    "InsufficientCredits",
    "LedgerError",
    "MeterNotFound",
    "Overloaded",
    "PriceBookNotFound",
    "RefundExceedsDebit",
    "UnknownModel",
    "ValidationFailed",
    "WalletExists",
    "WalletNotFound",
    "WebhookNotFound",
    "refuses_input",
]


class LedgerError(Exception):
    """Base class: a command was refused and nothing was recorded."""

    code: ClassVar[str] = "ledger_error"
    title: ClassVar[str] = "Ledger error"
    transient: ClassVar[bool] = False
    """True when the same command may succeed if simply retried."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def details(self) -> dict[str, Any]:
        """Extra, machine-readable members of the error (part of the contract)."""
        return {}


class FieldError:
    """One invalid field: where it is and what is wrong with it."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(LedgerError):
    code = "validation_error"
    title = "Invalid request"

    def __init__(self, *errors: FieldError, depends_on_state: bool = False) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)
        self.depends_on_state = depends_on_state
        """True when the input is well formed but wrong against stored state (a price book):
        then, like any other refusal, it yields to the result its idempotency key recorded."""

    def details(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


def refuses_input(error: LedgerError) -> bool:
    """Is ``error`` about the request alone, so refused as such whatever its key did before?

    Every other refusal depends on stored state, and a repeat of a request that succeeded
    earlier answers with that first result instead.
    """
    return isinstance(error, ValidationFailed) and not error.depends_on_state


class _NotFound(LedgerError):
    noun: ClassVar[str] = "object"

    def __init__(self, object_id: str) -> None:
        super().__init__(f"{self.noun} {object_id!r} not found")
        self.object_id = object_id


class WalletNotFound(_NotFound):
    code = "wallet_not_found"
    title = "Wallet not found"
    noun = "wallet"


class GrantNotFound(_NotFound):
    code = "grant_not_found"
    title = "Grant not found"
    noun = "grant"


class HoldNotFound(_NotFound):
    code = "hold_not_found"
    title = "Hold not found"
    noun = "hold"


class BudgetNotFound(_NotFound):
    code = "budget_not_found"
    title = "Budget not found"
    noun = "budget"


class AllowanceNotFound(_NotFound):
    code = "allowance_not_found"
    title = "Allowance not found"
    noun = "allowance"


class DebitNotFound(_NotFound):
    code = "debit_not_found"
    title = "Debit not found"
    noun = "debit"


class _VersionNotFound(_NotFound):
    """A versioned object (price book, meter) that does not exist, or lacks that version."""

    def __init__(self, object_id: str, version: int | None = None) -> None:
        if version is None:
            super().__init__(object_id)
        else:  # the object exists, the asked-for version does not
            LedgerError.__init__(self, f"{self.noun} {object_id!r} has no version {version}")
            self.object_id = object_id
        self.version = version


class PriceBookNotFound(_VersionNotFound):
    code = "price_book_not_found"
    title = "Price book not found"
    noun = "price book"


class MeterNotFound(_VersionNotFound):
    code = "meter_not_found"
    title = "Meter not found"
    noun = "meter"


class WebhookNotFound(_NotFound):
    code = "webhook_not_found"
    title = "Webhook not found"
    noun = "webhook"


class _Exists(LedgerError):
    noun: ClassVar[str] = "object"

    def __init__(self, object_id: str) -> None:
        super().__init__(f"{self.noun} {object_id!r} already exists")
        self.object_id = object_id


class WalletExists(_Exists):
    code = "wallet_exists"
    title = "Wallet already exists"
    noun = "wallet"


class GrantExists(_Exists):
    code = "grant_exists"
    title = "Grant already exists"
    noun = "grant"


class HoldExists(_Exists):
    code = "hold_exists"
    title = "Hold already exists"
    noun = "hold"


class GrantNotVoidable(LedgerError):
    code = "grant_not_voidable"
    title = "Grant cannot be voided"

    def __init__(self, grant_id: str, status: str) -> None:
        super().__init__(f"grant {grant_id!r} is {status} and cannot be voided")
        self.status = status

    def details(self) -> dict[str, Any]:
        return {"status": self.status}


class HoldNotOpen(LedgerError):
    code = "hold_not_open"
    title = "Hold is not open"

    def __init__(self, hold_id: str, status: str) -> None:
        super().__init__(f"hold {hold_id!r} is {status}")
        self.status = status

    def details(self) -> dict[str, Any]:
        return {"status": self.status}


class CaptureExceedsHold(LedgerError):
    code = "capture_exceeds_hold"
    title = "Capture exceeds the hold"

    def __init__(self, held: int, requested: int) -> None:
        super().__init__(
            f"capture of {requested} exceeds the {held} held; set allow_overage to debit the rest"
        )
        self.held = held
        self.requested = requested

    def details(self) -> dict[str, Any]:
        return {"held": self.held, "requested": self.requested}


class RefundExceedsDebit(LedgerError):
    code = "refund_exceeds_debit"
    title = "Refund exceeds the debit"

    def __init__(self, refundable: int, requested: int) -> None:
        super().__init__(f"refund of {requested} exceeds the {refundable} left to refund")
        self.refundable = refundable
        self.requested = requested

    def details(self) -> dict[str, Any]:
        return {"refundable": self.refundable, "requested": self.requested}


class InsufficientCredits(LedgerError):
    code = "insufficient_credits"
    title = "Insufficient credits"

    def __init__(self, available: int, requested: int) -> None:
        super().__init__(f"requested {requested} but only {available} available")
        self.available = available
        self.requested = requested

    def details(self) -> dict[str, Any]:
        return {"available": self.available, "requested": self.requested}


class BudgetExceeded(LedgerError):
    code = "budget_exceeded"
    title = "Budget exceeded"

    def __init__(
        self, budget_id: str, limit: int, spent: int, requested: int, period_end: datetime | None
    ) -> None:
        super().__init__(
            f"budget {budget_id!r} allows {limit}, {spent} spent, {requested} requested"
        )
        self.budget_id = budget_id
        self.limit = limit
        self.spent = spent
        self.requested = requested
        self.period_end = period_end

    def details(self) -> dict[str, Any]:
        return {
            "budget_id": self.budget_id,
            "limit": self.limit,
            "spent": self.spent,
            "requested": self.requested,
            "period_end": self.period_end,
        }


class UnknownModel(LedgerError):
    """The wallet's price book has no rate for the usage's model (or has no version yet)."""

    code = "unknown_model"
    title = "Unknown model"

    def __init__(self, model: str, price_book_id: str | None = None) -> None:
        where = "the rates" if price_book_id is None else f"price book {price_book_id!r}"
        super().__init__(f"model {model!r} has no rate in {where}")
        self.model = model
        self.price_book_id = price_book_id

    def details(self) -> dict[str, Any]:
        return {"model": self.model, "price_book_id": self.price_book_id}


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"
    title = "Idempotency key reused for a different request"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for a different request")


class Overloaded(LedgerError):
    code = "overloaded"
    title = "Overloaded"
    transient = True

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class Contention(LedgerError):
    code = "contention"
    title = "Too much contention"
    transient = True

    def __init__(self, wallet_id: str, attempts: int) -> None:
        super().__init__(f"wallet {wallet_id!r} changed under {attempts} attempts; retry")
        self.attempts = attempts
