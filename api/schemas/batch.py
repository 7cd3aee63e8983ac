"""Batch bodies (contract 1.1): many spending operations in one request, one result each.

The body is decoded in two steps so that a malformed batch and a bad operation are told
apart. First the envelope: ``operations`` must be a list of at most 1,000 objects, each with
a known ``op``, its ``wallet_id``, a 1-255 character ``idempotency_key`` and (capture,
release) its ``hold_id``; anything else refuses the whole request (422, nothing decided).
Then each operation is decoded on its own, strictly, into the body of its single endpoint
plus those envelope fields (:data:`OPERATION_TYPES`), so a field error answers that
operation alone with exactly the ``validation_error`` its single endpoint would give.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from api.schemas.debits import DebitIn
from api.schemas.fields import RequestBody, ResponseBody
from api.schemas.holds import CaptureIn, HoldIn
from api.validation import MAX_IDEMPOTENCY_KEY_LENGTH
from ledger.domain.errors import FieldError, ValidationFailed

__all__ = [
    "MAX_OPERATIONS",
    "OPERATIONS_SCHEMA",
    "OPERATION_TYPES",
    "BatchIn",
    "BatchOut",
    "BatchResult",
    "CaptureOperation",
    "DebitOperation",
    "Envelope",
    "HoldOperation",
    "ReleaseOperation",
    "envelopes",
]

MAX_OPERATIONS = 1000
Op = Literal["debit", "hold", "capture", "release"]
Key = Annotated[str, Meta(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH)]


class BatchIn(RequestBody):
    """The operations, each kept as its raw JSON until it is decoded on its own."""

    operations: Annotated[list[msgspec.Raw], Meta(max_length=MAX_OPERATIONS)]


class Envelope(msgspec.Struct, kw_only=True):
    """What addresses an operation; the rest of it is its single endpoint's body."""

    op: Op
    wallet_id: str
    idempotency_key: Key
    hold_id: str | None = None


class DebitOperation(DebitIn, kw_only=True):
    """``POST /v1/wallets/{wallet_id}/debits`` with ``Idempotency-Key``."""

    op: Literal["debit"]
    wallet_id: str
    idempotency_key: Key


class HoldOperation(HoldIn, kw_only=True):
    """``POST /v1/wallets/{wallet_id}/holds`` with ``Idempotency-Key``."""

    op: Literal["hold"]
    wallet_id: str
    idempotency_key: Key


class CaptureOperation(CaptureIn, kw_only=True):
    """``POST /v1/wallets/{wallet_id}/holds/{hold_id}/capture`` with ``Idempotency-Key``."""

    op: Literal["capture"]
    wallet_id: str
    idempotency_key: Key
    hold_id: str


class ReleaseOperation(RequestBody):
    """``POST /v1/wallets/{wallet_id}/holds/{hold_id}/release`` with ``Idempotency-Key``."""

    op: Literal["release"]
    wallet_id: str
    idempotency_key: Key
    hold_id: str


OPERATION_TYPES: dict[str, type[msgspec.Struct]] = {
    "debit": DebitOperation,
    "hold": HoldOperation,
    "capture": CaptureOperation,
    "release": ReleaseOperation,
}
"""The strict type of each operation (its single endpoint's body plus the envelope)."""

_ENVELOPE = msgspec.json.Decoder(Envelope, strict=True)
_NEEDS_HOLD_ID = frozenset({"capture", "release"})


def envelopes(batch: BatchIn) -> list[Envelope]:
    """Each operation's envelope, in order.

    Raises:
        ValidationFailed: A malformed batch (an operation that is not an object, an unknown
            ``op``, no ``wallet_id``, no or a bad ``idempotency_key``, a capture or release
            without ``hold_id``), naming ``operations[i].<field>``: nothing is decided.
    """
    found = []
    for index, raw in enumerate(batch.operations):
        where = f"operations[{index}]"
        try:
            envelope = _ENVELOPE.decode(raw)
        except msgspec.ValidationError as exc:
            message, _, path = str(exc).partition(" - at `$")
            field = f"{where}{path.rstrip('`')}" if path else where
            if message.startswith("Object missing required field"):
                name = message.split("`")[1]
                field, message = f"{where}.{name}", "required field is missing"
            raise ValidationFailed(FieldError(field, message)) from None
        if envelope.op in _NEEDS_HOLD_ID and envelope.hold_id is None:
            raise ValidationFailed(FieldError(f"{where}.hold_id", "required field is missing"))
        found.append(envelope)
    return found


class BatchResult(ResponseBody, omit_defaults=True):
    """One operation's answer: what its single endpoint would have answered.

    ``body`` is that endpoint's body (a problem document for a refusal), ``status`` its
    HTTP status; ``replayed`` is true for an idempotent repeat (the single endpoint's
    ``Idempotent-Replayed`` header) and ``position`` is the ``Ledger-Position`` it would
    have carried (absent when nothing was recorded).
    """

    index: int
    status: int
    body: Any
    replayed: bool = False
    position: int | None = None


class BatchOut(ResponseBody):
    """One result per operation, in the order given."""

    results: list[BatchResult]


_ID = {"type": "string", "description": "As in the single endpoint's path."}
OPERATIONS_SCHEMA: dict[str, Any] = {
    "properties": {
        "operations": {
            "type": "array",
            "maxItems": MAX_OPERATIONS,
            "description": "At most 1,000 operations, decided independently; those on one "
            "wallet in the order given.",
            "items": {
                "type": "object",
                "required": ["op", "wallet_id", "idempotency_key"],
                "description": "The envelope below plus the body of the single endpoint "
                "(`debit`: a debit's body, `hold`: a hold's, `capture`: a capture's, "
                "`release`: none); `hold_id` is required for `capture` and `release`.",
                "properties": {
                    "op": {"type": "string", "enum": ["debit", "hold", "capture", "release"]},
                    "wallet_id": _ID,
                    "idempotency_key": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH,
                        "description": "The single endpoint's Idempotency-Key header.",
                    },
                    "hold_id": _ID,
                },
            },
        }
    },
    "required": ["operations"],
}
"""The request body as documented (the decoder keeps each operation raw: see the module)."""
