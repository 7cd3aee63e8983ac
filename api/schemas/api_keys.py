"""API key bodies: ``POST /v1/api-keys``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

from api.schemas.fields import RequestBody, ResponseBody
from ledger.access.keys import SCOPE_PATTERN

__all__ = ["ApiKeyIn", "ApiKeyOut"]

_Scope = Annotated[
    str, Meta(pattern=SCOPE_PATTERN, description="admin, service, auditor or customer:<id>")
]


class ApiKeyIn(RequestBody):
    """The scopes of a new key and a name to recognise it by."""

    scopes: Annotated[list[_Scope], Meta(min_length=1, max_length=16)]
    name: Annotated[str, Meta(max_length=200)] = ""


class ApiKeyOut(ResponseBody):
    """A new key; ``key`` is shown only in this answer and is not stored anywhere."""

    key_id: str
    key: str
    scopes: list[str]
    name: str
    created_at: datetime
