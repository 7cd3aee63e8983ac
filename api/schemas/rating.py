"""Rating bodies: ``usage`` in place of ``amount`` on debits, holds and captures, and the
``rating`` their answers add.

The ledger rates ``usage`` against the wallet's price book (``ledger.app.pricing``); here it is
only checked for shape, and a request is refused when it gives both ``amount`` and ``usage``
(or, where an amount is needed, neither), with an error naming both fields.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from api.schemas.fields import RequestBody, ResponseBody
from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.validation import MAX_AMOUNT

__all__ = ["ModelName", "RatingOut", "UsageIn", "amount_or_usage"]

ModelName = Annotated[
    str, Meta(min_length=1, max_length=128, description="The model, as the price book names it.")
]
TokenCount = Annotated[int, Meta(ge=0, le=MAX_AMOUNT, description="Tokens of this kind.")]
InputTokens = Annotated[
    int,
    Meta(
        ge=0,
        le=MAX_AMOUNT,
        description="Uncached input tokens only. OpenAI's prompt_tokens (and Responses' "
        "input_tokens) include the cached ones: send prompt_tokens - cached_tokens. "
        "Anthropic's input_tokens already exclude cache reads: send them as they are (plus "
        "cache_creation_input_tokens).",
    ),
]
CachedInputTokens = Annotated[
    int,
    Meta(
        ge=0,
        le=MAX_AMOUNT,
        description="Input tokens served from the prompt cache: OpenAI's "
        "prompt_tokens_details.cached_tokens, Anthropic's cache_read_input_tokens.",
    ),
]
OutputTokens = Annotated[
    int,
    Meta(
        ge=0,
        le=MAX_AMOUNT,
        description="Output tokens, reasoning tokens included: OpenAI's completion_tokens, "
        "Anthropic's output_tokens.",
    ),
]


class UsageIn(RequestBody):
    """Tokens one model call used (a hold: at most will use); absent counts are 0.

    The amount is ``ceil(sum of tokens x rate / 1,000,000)`` at the current version of the
    wallet's price book. ``input_tokens`` counts uncached input only and
    ``cached_input_tokens`` the cached input, each at its own rate: OpenAI reports
    ``prompt_tokens`` with the cached tokens included (subtract them), Anthropic reports
    ``input_tokens`` without cache reads (send them as they are).
    """

    model: ModelName
    input_tokens: InputTokens = 0
    cached_input_tokens: CachedInputTokens = 0
    output_tokens: OutputTokens = 0

    def as_dict(self) -> dict[str, Any]:
        """The usage as the ledger takes it."""
        return msgspec.structs.asdict(self)


class RatingOut(ResponseBody):
    """How ``usage`` was rated: the price book version used and the amount it came to."""

    price_book_id: str
    version: int
    amount: int


def amount_or_usage(
    amount: int | msgspec.UnsetType | None, usage: UsageIn | None, *, required: bool = True
) -> tuple[int | None, dict[str, Any] | None]:
    """``amount`` and ``usage`` for the ledger command, once exactly one of them is given.

    An ``amount`` left out (``UNSET``) is None to the ledger.

    Raises:
        ValidationFailed: Both were given, or (when ``required``) neither; naming both fields.
    """
    given = None if isinstance(amount, msgspec.UnsetType) else amount
    if given is not None and usage is not None:
        message = "give amount or usage, not both"
    elif given is None and usage is None and required:
        message = "give amount or usage"
    else:
        return given, None if usage is None else usage.as_dict()
    raise ValidationFailed(FieldError("amount", message), FieldError("usage", message))
