"""Constrained field types and small Structs shared by every schema module."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from ledger.domain.validation import MAX_AMOUNT

__all__ = [
    "ID_PATTERN",
    "Allocation",
    "Amount",
    "AwareDatetime",
    "Balance",
    "BudgetWarning",
    "ClientId",
    "Metadata",
    "NonNegativeAmount",
    "Reason",
    "RequestBody",
    "ResponseBody",
    "Subject",
    "SubjectOut",
]

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"

Amount = Annotated[
    int, Meta(gt=0, le=MAX_AMOUNT, description="A positive integer in the wallet's unit.")
]
NonNegativeAmount = Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]
ClientId = Annotated[
    str, Meta(pattern=ID_PATTERN, description="1-128 characters of A-Z a-z 0-9 . _ : -")
]
AwareDatetime = Annotated[
    datetime, Meta(tz=True, description="RFC 3339 time with an offset, e.g. 2026-01-01T00:00:00Z")
]
Reason = Annotated[str, Meta(max_length=1000)]
Metadata = Annotated[
    dict[str, Any],
    Meta(
        description="Free-form JSON kept with the record and returned as given: at most 8 levels"
        " deep, 64 keys in all and 16 KiB as JSON (api.validation.check_metadata)."
    ),
]
"""Free-form JSON kept with the record and returned as given."""

_SubjectValue = Annotated[str, Meta(min_length=1, max_length=256)]


class RequestBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: an unknown field is a client error, never silently dropped."""


class ResponseBody(msgspec.Struct, kw_only=True):
    """Base of response bodies."""


class Subject(RequestBody):
    """Who or what a request is for; budgets match on these keys, and only these."""

    user_id: _SubjectValue | None = None
    team_id: _SubjectValue | None = None
    agent_id: _SubjectValue | None = None
    project_id: _SubjectValue | None = None
    feature: _SubjectValue | None = None
    model: _SubjectValue | None = None

    def as_dict(self) -> dict[str, str]:
        """The keys that were given, as the ledger takes them."""
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class SubjectOut(ResponseBody, omit_defaults=True):
    """A subject as recorded: only the keys that were given (documented one by one, so a
    generated client and "Try it out" show the real keys, not ``additionalProp1``)."""

    user_id: str | None = None
    team_id: str | None = None
    agent_id: str | None = None
    project_id: str | None = None
    feature: str | None = None
    model: str | None = None


class Balance(ResponseBody):
    """A wallet's balance; ``available`` is negative while debt exceeds the active credits."""

    available: int
    held: int
    debt: int


class Allocation(ResponseBody):
    """How much of one grant a debit or hold took."""

    grant_id: str
    amount: int


class BudgetWarning(ResponseBody):
    """A soft budget was exceeded; the request went through anyway."""

    code: str
    budget_id: str
