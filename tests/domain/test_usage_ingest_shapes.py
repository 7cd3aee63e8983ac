"""Usage events shaped at the edge (``api.schemas.usage_events``) get the answers of raw ones.

``ledger.metering.ingest.check_events`` takes decoded JSON objects, checked field by field, or
``ShapedEvent`` values whose types an edge already checked; both kinds must keep and refuse
the same events, built and worded the same way.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.schemas.usage_events import UsageEventShape, shaped_events
from ledger.metering import ingest
from ledger.metering.ingest import DEFAULT_LATE_GRACE, check_events
from tests.support.builders import T0

GOOD: dict[str, Any] = {
    "event_id": "e-1",
    "wallet_id": "acme",
    "type": "llm.completion",
    "occurred_at": "2026-01-01T00:00:00Z",
    "subject": {"user_id": "u1", "model": "gpt"},
    "quantities": {"input_tokens": 1200, "output_tokens": 350},
    "properties": {},
}

CHANGES: list[dict[str, Any]] = [
    {},
    {"bill": True},
    {"event_id": ""},
    {"event_id": "a b"},
    {"event_id": "a\nb"},
    {"wallet_id": "w\n"},
    {"event_id": "é"},
    {"wallet_id": "x" * 128},
    {"wallet_id": "x" * 129},
    {"type": ""},
    {"type": "t" * 128},
    {"type": "t" * 129},
    {"type": "é" * 100},
    {"occurred_at": "2026-01-01t00:00:00z"},
    {"occurred_at": "2026-01-01 01:00:00+01:00"},
    {"occurred_at": "2025-12-31T23:59:59.250Z"},
    {"occurred_at": "2026-01-01T00:00:00"},
    {"occurred_at": "2026-13-01T00:00:00Z"},
    {"occurred_at": "2026-01-01T00:10:00Z"},  # beyond the 5 minutes of future
    {"occurred_at": "2025-12-30T00:00:00Z"},  # late
    {"occurred_at": "0001-01-01T00:00:00+01:00"},
    {"occurred_at": "2026-01-01T00:00:00.1234567Z"},
    {"occurred_at": 1767225600},
    {"subject": {"colour": "red"}},
    {"subject": {"user_id": ""}},
    {"subject": {"user_id": "u" * 257}},
    {"subject": {"user_id": 5}},
    {"subject": []},
    {"quantities": {"input_tokens": -1}},
    {"quantities": {"input_tokens": 1.5}},
    {"quantities": {"input_tokens": True}},
    {"quantities": {"input_tokens": 9_007_199_254_740_992}},
    {"quantities": {f"k{i}": 1 for i in range(32)}},
    {"quantities": {f"k{i}": 1 for i in range(33)}},
    {"quantities": {"bad key": 1}},
    {"quantities": {"": 1}},
    {"properties": []},
    {"properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}},
    {"properties": {"list": list(range(300))}},
    {"properties": {"s": "x" * 1025}},
    {"properties": {"ok": [1, "two", None, True, 2.5]}},
    {"bill": "yes"},
    {"colour": "red"},
]


def answers(events: list[object]) -> tuple[list[Any], list[Any]]:
    return check_events(events, T0, DEFAULT_LATE_GRACE)


@pytest.mark.parametrize("change", CHANGES, ids=[repr(c)[:60] for c in CHANGES])
def test_a_shaped_event_gets_the_answer_of_the_raw_event(change: dict[str, Any]) -> None:
    batch = [dict(GOOD), {**GOOD, "event_id": "e-2", **change}]

    assert answers(shaped_events(batch)) == answers(list(batch))


def test_events_the_edge_cannot_shape_go_to_the_ledger_as_they_came() -> None:
    batch: list[Any] = [dict(GOOD), {**GOOD, "colour": "red"}, 7]

    shaped = shaped_events(batch)

    assert isinstance(shaped[0], UsageEventShape)
    assert shaped[1:] == batch[1:]


def test_a_mixed_batch_answers_in_batch_order() -> None:
    batch = [
        {**GOOD, "event_id": f"e-{i}", "event_id" if i % 3 else "type": "" if i % 2 else "x"}
        for i in range(12)
    ]

    valid, rejected = answers(shaped_events(batch))

    assert [e.index for e in valid] == sorted(e.index for e in valid)
    assert [r.index for r in rejected] == sorted(r.index for r in rejected)
    assert (valid, rejected) == answers(list(batch))


_TEXT = st.text(alphabet="ab-_:.\n é", max_size=6)
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**54), st.floats(), _TEXT)
_FIELD = st.sampled_from(
    ["event_id", "wallet_id", "type", "occurred_at", "subject", "quantities", "properties", "bill"]
)
_TIME = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:04:59Z",
        "2026-01-01T00:05:01Z",
        "2025-12-30T00:00:00+02:00",
        "2026-01-01 00:00:00.5z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00Z",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.dictionaries(_FIELD, st.one_of(_VALUE, _TIME), max_size=3),
            st.dictionaries(
                st.sampled_from(["subject", "quantities", "properties"]),
                st.dictionaries(
                    st.sampled_from(["user_id", "model", "colour", "input_tokens", "bad key"]),
                    _VALUE,
                    max_size=2,
                ),
                max_size=2,
            ),
        ),
        max_size=6,
    )
)
def test_any_batch_gets_the_same_answers_shaped_or_raw(changes: list[dict[str, Any]]) -> None:
    batch = [{**GOOD, "event_id": f"e-{i}", **change} for i, change in enumerate(changes)]

    assert answers(shaped_events(batch)) == answers(list(batch))


def test_well_formed_shaped_events_are_kept_without_the_field_by_field_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("a well-formed shaped event took the field-by-field path")

    monkeypatch.setattr(ingest, "check_event", refuse)
    batch = [{**GOOD, "event_id": f"e-{i}"} for i in range(5)]

    valid, rejected = check_events(shaped_events(batch), T0, DEFAULT_LATE_GRACE)

    assert [e.event_id for e in valid] == [f"e-{i}" for i in range(5)]
    assert rejected == []
