"""One HTTP exchange described as data: :class:`Call` (what to send, how to decode the
answer) and :class:`Answer` (what came back).

Operation builders (``credit_ledger.ops_*``) make Calls; :class:`~credit_ledger.Ledger` and
:class:`~credit_ledger.AsyncLedger` carry them out, retrying, batching or journaling them,
so the synchronous and asynchronous clients share every operation's definition.

A state-changing Call gets its ``Idempotency-Key`` when it is built, so every retry, batch
resubmission and journal replay of it carries the same key, and the server decides it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import msgspec

from credit_ledger.reports import Page

__all__ = [
    "SAFE_METHODS",
    "Answer",
    "Call",
    "decode_as",
    "decode_items",
    "decode_json",
    "decode_none",
    "decode_page",
    "decode_text",
    "json_body",
    "new_key",
    "query",
    "raw_call",
    "segment",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
SAFE_METHODS = frozenset({"GET", "HEAD"})


def new_key() -> str:
    """A fresh idempotency key (random, so two calls never share one by accident)."""
    return str(uuid.uuid4())


def segment(value: str) -> str:
    """A path segment: ids are ``A-Z a-z 0-9 . _ : -``; anything else is escaped."""
    return quote(value, safe=":")


def json_body(**members: Any) -> dict[str, Any]:
    """A request body: members that are None are left out (the server's default applies),
    datetimes become RFC 3339 and Structs (usage) plain objects."""
    converted: dict[str, Any] = msgspec.to_builtins(
        {name: value for name, value in members.items() if value is not None}
    )
    return converted


def query(**params: Any) -> dict[str, str | int]:
    """Query parameters without the Nones; ``from_`` is sent as ``from``; lists are joined
    with commas and datetimes written in RFC 3339."""
    out: dict[str, str | int] = {}
    for name, value in params.items():
        if value is None:
            continue
        wire = name.rstrip("_")
        if isinstance(value, datetime):
            out[wire] = value.isoformat()
        elif isinstance(value, list | tuple):
            out[wire] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[wire] = "true" if value else "false"
        else:
            out[wire] = value
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    """A response: from the socket (``content``) or one result of a batch (``body``)."""

    status: int
    headers: Mapping[str, str]
    content: bytes | None = None
    body: Any = None

    def json(self) -> Any:
        if self.content is None:
            return self.body
        if not self.content:
            return None
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError:
            return None

    def text(self) -> str:
        if self.content is not None:
            return self.content.decode("utf-8", errors="replace")
        return "" if self.body is None else str(self.body)

    def position(self) -> int | None:
        """The ``Ledger-Position`` header of a command that recorded events."""
        value = self.headers.get("ledger-position") or self.headers.get("Ledger-Position")
        return int(value) if value and value.isdigit() else None


@dataclass(frozen=True, slots=True)
class Call(Generic[T_co]):
    """A request and the decoder of its successful answer.

    ``batch_op`` names the operation of ``POST /v1/batch`` that can carry this call
    (``debit``, ``hold``, ``capture``, ``release``); ``idempotent`` marks a write that is
    safe to repeat without a key (revoking an API key).
    """

    method: str
    path: str
    decode: Callable[[Answer], T_co]
    params: Mapping[str, str | int] | None = None
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    accept: str | None = None
    idempotent: bool = False
    wallet_id: str | None = None
    hold_id: str | None = None
    batch_op: str | None = None

    @property
    def may_retry(self) -> bool:
        """Whether repeating the call can never decide twice: a read, a keyed write (the
        server answers a repeat with its first answer) or a write idempotent by nature."""
        return self.method in SAFE_METHODS or self.idempotency_key is not None or self.idempotent

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.idempotency_key is not None:
            headers["Idempotency-Key"] = self.idempotency_key
        if self.accept is not None:
            headers["Accept"] = self.accept
        return headers

    def content(self) -> bytes | None:
        return None if self.body is None else msgspec.json.encode(self.body)

    def batch_operation(self) -> dict[str, Any]:
        """This call as one operation of ``POST /v1/batch`` (same key, same body)."""
        operation: dict[str, Any] = {
            "op": self.batch_op,
            "wallet_id": self.wallet_id,
            "idempotency_key": self.idempotency_key,
        }
        if self.hold_id is not None:
            operation["hold_id"] = self.hold_id
        operation.update(self.body or {})
        return operation

    def with_body(self, **members: Any) -> Call[T_co]:
        """The same call with members added to its body (and the same key)."""
        return replace(self, body={**(self.body or {}), **json_body(**members)})


def raw_call(
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    body: dict[str, Any] | None,
    idempotency_key: str | None,
) -> Call[Any]:
    """A call to any route, answering its JSON; no key is made for it."""
    return Call(
        method.upper(),
        path,
        decode_json,
        params=query(**params) if params else None,
        body=body,
        idempotency_key=idempotency_key,
    )


def decode_as(kind: type[T]) -> Callable[[Answer], T]:
    """Decode the JSON answer into ``kind`` (unknown members are ignored)."""

    def decode(answer: Answer) -> T:
        if answer.content is not None:
            return msgspec.json.decode(answer.content, type=kind)
        return msgspec.convert(answer.body, kind)

    return decode


def decode_page(
    kind: type[T], member: str, cursor: str = "next_after"
) -> Callable[[Answer], Page[T, Any]]:
    """Decode ``{member: [...], cursor: ...}`` into a :class:`Page` of ``kind``."""

    def decode(answer: Answer) -> Page[T, Any]:
        body = answer.json() or {}
        items = msgspec.convert(body.get(member, []), list[kind])  # type: ignore[valid-type]
        return Page(items=items, next_after=body.get(cursor))

    return decode


def decode_items(kind: type[T], member: str) -> Callable[[Answer], list[T]]:
    """Decode ``{member: [...]}`` into the list alone (lists that are not paged)."""
    page = decode_page(kind, member)
    return lambda answer: page(answer).items


def decode_json(answer: Answer) -> Any:
    """The answer's JSON as plain Python objects (None for an empty body)."""
    return answer.json()


def decode_none(answer: Answer) -> None:  # noqa: ARG001 - the decoder of a 204
    return None


def decode_text(answer: Answer) -> str:
    return answer.text()
