"""The owner channel's frames (``api.channel_wire``): commands arrive as the route built
them, answers as the owner gave them, and what a version cannot read is declined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.channel_wire import (
    DONE,
    MAX_FRAME_BYTES,
    OPS,
    FrameError,
    Frames,
    Undecodable,
    decode,
    decode_answer,
    decode_request,
    encode_declined,
    encode_done,
    encode_refused,
    encode_request,
    frame,
)
from api.errors import Problem
from ledger.app.commands import CaptureHold, Command, Debit, PlaceHold, Refund, ReleaseHold
from ledger.app.executor import Outcome

COMMANDS: list[tuple[str, Command]] = [
    (
        "debit_later",
        Debit(
            wallet_id="acme/team",
            amount=5,
            subject={"user_id": "u1", "team_id": "t1"},
            occurred_at=datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            metadata={"request": "r-1", "nested": {"list": [1, 2.5, None, True]}},
            idempotency_key="k-1",
        ),
    ),
    ("debit_later", Debit(wallet_id="w", usage={"model": "gpt-4.1", "input_tokens": 12})),
    ("refund_later", Refund(wallet_id="w", debit_id="d", amount=None, reason="oops")),
    ("place_hold_later", PlaceHold(wallet_id="w", amount=9, hold_id="h1")),
    ("capture_hold_later", CaptureHold(wallet_id="w", hold_id="h1", allow_overage=True)),
    ("release_hold_later", ReleaseHold(wallet_id="w", hold_id="h1", idempotency_key="k")),
]


def _payload(framed: bytes) -> bytes:
    (payload,) = Frames().feed(framed)
    return payload


@pytest.mark.parametrize(("op", "command"), COMMANDS)
def test_a_command_arrives_as_sent_with_the_same_fingerprint(op: str, command: Command) -> None:
    request = decode_request(_payload(encode_request(7, op, "key-1", 3, command)))

    assert (request.id, request.op, request.key_id, request.key_version) == (7, op, "key-1", 3)
    assert request.command == command
    assert type(request.command) is type(command)
    assert request.command.fingerprint() == command.fingerprint()  # a retry still matches


def test_every_op_the_channel_carries_is_a_spending_command_of_the_ledger() -> None:
    assert [name for name, _ in OPS] == [
        "debit_later",
        "refund_later",
        "place_hold_later",
        "capture_hold_later",
        "release_hold_later",
    ]


def test_an_op_this_version_does_not_know_is_declined_not_decided() -> None:
    payload = _payload(frame((9, len(OPS), None, 0, {"wallet_id": "w"})))

    with pytest.raises(Undecodable) as caught:
        decode_request(payload)
    assert caught.value.request_id == 9
    assert decode_answer(decode(_payload(encode_declined(9)))) is None


def test_frames_are_split_however_the_bytes_arrive() -> None:
    stream = b"".join(frame(("m", n)) for n in range(3))
    frames = Frames()

    payloads = [p for byte in range(len(stream)) for p in frames.feed(stream[byte : byte + 1])]

    assert [decode(p) for p in payloads] == [["m", 0], ["m", 1], ["m", 2]]


def test_a_frame_longer_than_the_limit_breaks_the_connection() -> None:
    with pytest.raises(FrameError):
        Frames().feed((MAX_FRAME_BYTES + 1).to_bytes(4, "big"))


def test_an_outcome_comes_back_as_the_owner_decided_it() -> None:
    body = {"debit_id": "d", "at": datetime(2026, 1, 1, tzinfo=UTC), "allocations": [{"a": 1}]}
    message = decode(_payload(encode_done(4, Outcome(body, replayed=True, position=None))))

    assert message[:2] == [4, DONE]
    assert decode_answer(message) == Outcome(body, replayed=True, position=None)


def test_a_refusal_comes_back_as_the_problem_the_owner_would_have_answered() -> None:
    problem = Problem(
        409,
        "hold_not_open",
        "Hold not open",
        "hold h1 is captured",
        {"hold_id": "h1", "hold_status": "captured"},
        {"Retry-After": "1"},
    )

    assert decode_answer(decode(_payload(encode_refused(5, problem)))) == problem
