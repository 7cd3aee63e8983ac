"""Price book bodies: ``PUT`` and ``GET /v1/price-books/{price_book_id}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from api.schemas.fields import ClientId, RequestBody, ResponseBody
from api.schemas.rating import ModelName
from ledger.app.commands import PutPriceBook
from ledger.domain.rating import MAX_RATES
from ledger.domain.validation import MAX_AMOUNT

__all__ = ["PriceBookIn", "PriceBookOut", "RateIn", "RateOut"]

PerMillion = Annotated[
    int, Meta(ge=0, le=MAX_AMOUNT, description="Integer credits per 1,000,000 tokens.")
]


class RateIn(RequestBody):
    """The price of one model; ``cached_input_per_million`` defaults to the input rate."""

    model: ModelName
    input_per_million: PerMillion
    output_per_million: PerMillion
    cached_input_per_million: PerMillion | None = None

    def as_dict(self) -> dict[str, Any]:
        """The rate as the ledger takes it (an absent cached rate left to its default)."""
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class PriceBookIn(RequestBody):
    """The next version of a price book: its unit and every model's rate (one per model)."""

    rates: Annotated[list[RateIn], Meta(min_length=1, max_length=MAX_RATES)]
    unit: ClientId = "credits"

    def to_command(self, price_book_id: str, idempotency_key: str | None) -> PutPriceBook:
        """The ledger command for this request."""
        return PutPriceBook(
            price_book_id=price_book_id,
            unit=self.unit,
            rates=[rate.as_dict() for rate in self.rates],
            idempotency_key=idempotency_key,
        )


class RateOut(ResponseBody):
    """The price of one model, in the book's unit per 1,000,000 tokens of each kind."""

    model: str
    input_per_million: int
    cached_input_per_million: int
    output_per_million: int


class PriceBookOut(ResponseBody):
    """One version of a price book (rates sorted by model) and the book's latest version."""

    price_book_id: str
    unit: str
    version: int
    rates: list[RateOut]
    created_at: datetime
    latest_version: int
