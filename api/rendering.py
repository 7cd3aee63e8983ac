"""Turn the ledger's result dicts into response bodies: UTC times, fixed shapes, replay headers.

A command's first answer is rendered from the live result and a replay from the stored
receipt (after a round trip through the event store's transcoder). Both go through the same
``msgspec.convert`` into the same response Struct, and every time is moved to UTC, so a
replay answers byte for byte what the first call did.

A command that recorded events answers with the header ``Ledger-Position``: the position
(notification id) of the last event it wrote, which reads can wait for with
``?min_position=`` (read-your-writes). The position is not in the body, which a replay must
repeat byte for byte, and a replay (the receipt does not keep it) answers without it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar import Response

from ledger.app.executor import Outcome

__all__ = ["POSITION_HEADER", "REPLAYED_HEADER", "as_utc", "outcome_headers", "render", "respond"]

REPLAYED_HEADER = "Idempotent-Replayed"
POSITION_HEADER = "Ledger-Position"

T = TypeVar("T")


def as_utc(value: Any) -> Any:
    """``value`` with every aware datetime inside it (dicts, lists) moved to UTC.

    msgspec writes a UTC datetime with ``Z`` and any other offset as ``+hh:mm``; the contract
    promises ``Z``, and a client's own offset (an ``effective_at`` sent as ``+02:00``) must not
    leak back out.
    """
    if type(value) in _SCALARS:  # most of a body: no call per string or number
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else as_utc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else as_utc(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def render(body: dict[str, Any], body_type: type[T]) -> T:
    """The ledger result ``body`` as the response Struct ``body_type``; extra keys are dropped."""
    return msgspec.convert(as_utc(body), body_type)


def outcome_headers(outcome: Outcome) -> dict[str, str]:
    """``Idempotent-Replayed`` for a replay, else ``Ledger-Position`` if the command wrote."""
    if outcome.replayed:
        return {REPLAYED_HEADER: "true"}
    if outcome.position is not None:
        return {POSITION_HEADER: str(outcome.position)}
    return {}


def respond(outcome: Outcome, body_type: type[T], status_code: int) -> Response[T]:
    """The response of a command: its body, its status and its headers (see above)."""
    body = render(outcome.body, body_type)
    return Response(body, status_code=status_code, headers=outcome_headers(outcome))
