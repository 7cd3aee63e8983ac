"""``metadata`` limits are checked wherever a body can carry one, and only there.

``api.validation.check_free_form`` walks a decoded body for ``metadata`` members; it skips
fields whose type cannot hold one (a subject, a usage), so a body is not walked field by
field on every request, and still finds one nested in Structs and lists.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api.schemas.debits import DebitIn
from api.schemas.fields import Subject
from api.validation import MAX_METADATA_DEPTH, _fields_to_walk, check_free_form
from ledger.domain.errors import ValidationFailed


class _Leaf(msgspec.Struct):
    metadata: dict[str, Any] = {}


class _Outer(msgspec.Struct):
    name: str = ""
    leaves: list[_Leaf] = []
    anything: Any = None
    optional: _Leaf | None = None


def _too_deep() -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(MAX_METADATA_DEPTH):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_Outer(leaves=[_Leaf(), _Leaf(metadata=_too_deep())]), "leaves[1].metadata"),
        (_Outer(anything=_Leaf(metadata=_too_deep())), "anything.metadata"),
        (_Outer(optional=_Leaf(metadata=_too_deep())), "optional.metadata"),
        (DebitIn(amount=1, metadata=_too_deep()), "metadata"),
    ],
)
def test_metadata_beyond_its_limits_is_found_wherever_it_is(body: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_free_form(body, "")

    assert [error.field for error in refused.value.errors] == [field]


def test_fields_that_cannot_hold_metadata_are_not_walked() -> None:
    assert _fields_to_walk(Subject) == ()
    assert _fields_to_walk(_Outer) == ("leaves", "anything", "optional")
    assert "metadata" in _fields_to_walk(DebitIn)
    assert "amount" not in _fields_to_walk(DebitIn)
