"""The owner channel's wire format: length-prefixed msgpack frames (decision 0016).

A process that received a spending request (and did the HTTP work: parsing, authentication,
rate limit, validation) sends the *command* to the shard's owner on one persistent
connection; the owner queues it straight into its committer and sends back the outcome.

Frames are a 4-byte big-endian length and a msgpack array:

* hello, receiver -> owner, first: ``[HELLO, token]``; the owner answers ``[HELLO]`` or closes;
* request: ``[id, op, key_id, key_version, command]`` — ``op`` indexes :data:`OPS`,
  ``key_id``/``key_version`` the caller's key fence (``None``/0 for the bootstrap key),
  ``command`` the command dataclass as msgspec encodes it;
* answer: ``[id, DONE, body, replayed, position]``, ``[id, REFUSED, status, code, title,
  detail, extra, headers, overrides]`` (the problem the owner would have answered), or
  ``[id, DECLINED]``: the owner did not take the command (nothing was done; decide it
  elsewhere).

Many requests are in flight on one connection; answers come back in any order, matched by
``id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from api.errors import Problem
from ledger.app.commands import CaptureHold, Command, Debit, PlaceHold, Refund, ReleaseHold
from ledger.app.executor import Outcome

__all__ = [
    "DECLINED",
    "DONE",
    "HELLO",
    "HELLO_MAX_BYTES",
    "MAX_FRAME_BYTES",
    "OPS",
    "OP_OF",
    "REFUSED",
    "FrameError",
    "Frames",
    "Request",
    "Undecodable",
    "decode",
    "decode_answer",
    "decode_request",
    "encode_declined",
    "encode_done",
    "encode_refused",
    "encode_request",
    "frame",
]

HELLO = "ledger-channel/1"
MAX_FRAME_BYTES = 16 << 20
HELLO_MAX_BYTES = 1024
DONE, REFUSED, DECLINED = 0, 1, 2

OPS: tuple[tuple[str, type[Command]], ...] = (
    ("debit_later", Debit),
    ("refund_later", Refund),
    ("place_hold_later", PlaceHold),
    ("capture_hold_later", CaptureHold),
    ("release_hold_later", ReleaseHold),
)
"""The ledger's ``*_later`` methods the channel carries, and their command types."""
OP_OF = {name: index for index, (name, _) in enumerate(OPS)}

_encoder = msgspec.msgpack.Encoder()
_any = msgspec.msgpack.Decoder()
_head = msgspec.msgpack.Decoder(tuple[int, int, str | None, int, msgspec.Raw])
_commands = [msgspec.msgpack.Decoder(command) for _, command in OPS]


class FrameError(Exception):
    """A frame that cannot be one of ours (too long): the connection is closed."""


def frame(message: Any) -> bytes:
    """``message`` encoded, with its length in front."""
    payload = _encoder.encode(message)
    return len(payload).to_bytes(4, "big") + payload


class Frames:
    """Splits a byte stream into frames' payloads (a partial frame waits for more bytes).

    ``limit`` is the largest frame accepted; the owner starts with :data:`HELLO_MAX_BYTES`
    and raises it after the hello, so a stranger cannot make it hold megabytes.
    """

    def __init__(self, limit: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self.limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        payloads: list[bytes] = []
        at, end = 0, len(buffer)
        while end - at >= 4:
            size = int.from_bytes(buffer[at : at + 4], "big")
            if size > self.limit:
                raise FrameError(f"a frame of {size} bytes")
            if end - at - 4 < size:
                break
            payloads.append(bytes(buffer[at + 4 : at + 4 + size]))
            at += 4 + size
        if at:
            del buffer[:at]
        return payloads


def decode(payload: bytes) -> Any:
    return _any.decode(payload)


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded request: which ``*_later`` method, on which command, under which key."""

    id: int
    op: str
    key_id: str | None
    key_version: int
    command: Command


def encode_request(
    request_id: int, op: str, key_id: str | None, key_version: int, command: Command
) -> bytes:
    """The framed request (raises ``KeyError`` for an op the channel does not carry, and
    msgspec's errors for a command it cannot encode: then it is decided elsewhere)."""
    return frame((request_id, OP_OF[op], key_id, key_version, command))


class Undecodable(Exception):
    """A request whose op or command this version cannot read: declined, not decided."""

    def __init__(self, request_id: int) -> None:
        super().__init__(request_id)
        self.request_id = request_id


def decode_request(payload: bytes) -> Request:
    """The request in ``payload``.

    Raises:
        msgspec.DecodeError: Not a request at all (the connection is broken).
        Undecodable: A request for an op or with a command this version cannot read.
    """
    request_id, op, key_id, key_version, raw = _head.decode(payload)
    if not 0 <= op < len(OPS):
        raise Undecodable(request_id)
    try:
        command = _commands[op].decode(raw)
    except msgspec.DecodeError:  # ValidationError is one
        raise Undecodable(request_id) from None
    return Request(request_id, OPS[op][0], key_id, key_version, command)


def encode_done(request_id: int, outcome: Outcome) -> bytes:
    return frame((request_id, DONE, outcome.body, outcome.replayed, outcome.position))


def encode_refused(request_id: int, problem: Problem) -> bytes:
    return frame(
        (
            request_id,
            REFUSED,
            problem.status,
            problem.code,
            problem.title,
            problem.detail,
            problem.extra,
            problem.headers,
        )
    )


def encode_declined(request_id: int) -> bytes:
    return frame((request_id, DECLINED))


def decode_answer(message: list[Any]) -> Outcome | Problem | None:
    """An answer's outcome, its problem, or None when the owner declined the command."""
    kind = message[1]
    if kind == DONE:
        return Outcome(message[2], replayed=message[3], position=message[4])
    if kind == REFUSED:
        status, code, title, detail, extra, headers = message[2:8]
        return Problem(status, code, title, detail, extra, headers)
    return None
