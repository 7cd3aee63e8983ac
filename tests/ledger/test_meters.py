"""Meter definitions: validation, versions, idempotency (ledger.metering.meters, app.meters)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.app.meters import PutMeter, meter_definition, put_meter
from ledger.app.service import CreditLedger
from ledger.domain.errors import IdempotencyConflict, MeterNotFound, ValidationFailed
from ledger.metering.meters import METER_TOPICS, MeterDefinition, check_definition
from tests.support.builders import T0, FakeClock, make_ledger

OUT = "quantities.output_tokens"


@pytest.fixture
def ledger() -> Iterator[CreditLedger]:
    app = make_ledger(clock=FakeClock())
    yield app
    app.close()


def _put(ledger: CreditLedger, key: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"event_type": "llm.completion", "aggregation": "sum", "value": OUT, **fields}
    return put_meter(ledger, PutMeter(meter_id="tokens", idempotency_key=key, **body)).body


def test_a_new_meter_is_version_1_and_reads_back() -> None:
    ledger = make_ledger(clock=FakeClock())
    body = _put(ledger, group_by=["model"])
    assert body == {
        "meter_id": "tokens",
        "event_type": "llm.completion",
        "aggregation": "sum",
        "value": OUT,
        "group_by": ["model"],
        "version": 1,
        "created_at": T0,
        "latest_version": 1,
        "created": True,
    }
    assert meter_definition(ledger, "tokens") == {k: v for k, v in body.items() if k != "created"}


def test_a_change_is_the_next_version_and_earlier_ones_still_answer(ledger: CreditLedger) -> None:
    _put(ledger)
    second = _put(ledger, aggregation="max")
    assert (second["version"], second["aggregation"], second["created"]) == (2, "max", False)
    assert meter_definition(ledger, "tokens", 1)["aggregation"] == "sum"
    assert meter_definition(ledger, "tokens")["latest_version"] == 2


def test_a_put_equal_to_the_current_version_records_nothing(ledger: CreditLedger) -> None:
    _put(ledger, group_by=["model"])
    again = put_meter(
        ledger,
        PutMeter(
            meter_id="tokens",
            event_type="llm.completion",
            aggregation="sum",
            value=OUT,
            group_by=["model"],
        ),
    )
    assert (again.body["version"], again.position) == (1, None)


def test_a_repeated_key_replays_and_a_different_body_conflicts(ledger: CreditLedger) -> None:
    first = _put(ledger, key="k1")
    assert _put(ledger, key="k1") == first
    with pytest.raises(IdempotencyConflict):
        _put(ledger, key="k1", aggregation="min")


def test_an_unknown_meter_or_version_is_not_found(ledger: CreditLedger) -> None:
    with pytest.raises(MeterNotFound):
        meter_definition(ledger, "nope")
    _put(ledger)
    with pytest.raises(MeterNotFound, match="no version 2"):
        meter_definition(ledger, "tokens", 2)


def test_meter_topics_are_explicit_and_stable() -> None:
    assert METER_TOPICS == ["ledger:Meter.Defined", "ledger:Meter.Redefined"]


def test_count_needs_no_value_and_the_others_do() -> None:
    assert check_definition("t", "count", None, []) == MeterDefinition("t", "count", None, [])
    for aggregation in ("sum", "unique_count", "min", "max", "avg", "latest"):
        with pytest.raises(ValidationFailed, match="value"):
            check_definition("t", aggregation, None, [])


@pytest.mark.parametrize(
    ("event_type", "aggregation", "value", "group_by", "field"),
    [
        ("", "count", None, [], "event_type"),
        ("x" * 129, "count", None, [], "event_type"),
        ("t", "median", OUT, [], "aggregation"),
        ("t", "sum", "output_tokens", [], "value"),
        ("t", "sum", "quantities.", [], "value"),
        ("t", "sum", "quantities.a b", [], "value"),
        ("t", "sum", "subject.model", [], "value"),  # numeric aggregations need numbers
        ("t", "latest", "subject.colour", [], "value"),
        ("t", "latest", "metadata.x", [], "value"),
        ("t", "count", None, ["colour"], "group_by"),
        ("t", "count", None, ["quantities.input_tokens"], "group_by"),
        ("t", "count", None, ["model", "subject.model"], "group_by"),
        ("t", "count", None, [f"properties.k{i}" for i in range(9)], "group_by"),
    ],
)
def test_malformed_definitions_are_refused(
    event_type: str, aggregation: str, value: str | None, group_by: list[str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_definition(event_type, aggregation, value, group_by)
    assert [error.field for error in refused.value.errors] == [field]


def test_paths_into_subject_quantities_and_properties_are_accepted() -> None:
    definition = check_definition(
        "llm.completion", "latest", "properties.region", ["model", "properties.tier"]
    )
    assert definition.group_by == ["model", "properties.tier"]
    assert check_definition("t", "unique_count", "subject.user_id", []).value == "subject.user_id"


def test_a_bad_meter_id_is_refused(ledger: CreditLedger) -> None:
    with pytest.raises(ValidationFailed):
        put_meter(ledger, PutMeter(meter_id="a b", event_type="t", aggregation="count", value=None))
