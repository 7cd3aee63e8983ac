"""Parameter annotations shared by the route modules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api.validation import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH

__all__ = ["AsOf", "IdempotencyKey", "PathId"]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="Repeat the request with the same key to get the first answer back.",
    ),
]
PathId = Annotated[str, PathParameter()]
AsOf = Annotated[
    datetime | None,
    QueryParameter(description="Answer from history, as the ledger stood at this time."),
]
