"""Meter bodies: ``PUT``/``GET /v1/meters/{meter_id}`` and a wallet's meter series."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from api.schemas.fields import RequestBody, ResponseBody
from ledger.app.meters import PutMeter
from ledger.metering.meters import MAX_EVENT_TYPE, MAX_GROUP_BY

__all__ = ["MeterIn", "MeterOut", "MeterPointOut", "MeterSeriesOut"]

Path = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="quantities.<key>, subject.<key> or properties.<key>; a key is 1-64 "
        "characters of A-Z a-z 0-9 _ : -",
    ),
]
Dimension = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="subject.<key> or properties.<key>; a bare name is a subject key "
        "(model = subject.model).",
    ),
]
Aggregation = Literal["count", "sum", "unique_count", "min", "max", "avg", "latest"]
Scalar = int | float | str | bool
# An integer is also a JSON Schema number, so ``oneOf`` (litestar's rendering of a union)
# would make every integer value invalid to a validating client: documented as ``anyOf``.
_SCALAR_SCHEMA = [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]
ScalarValue = Annotated[
    Scalar, Meta(extra_json_schema={"extra": {"one_of": None, "any_of": _SCALAR_SCHEMA}})
]
ScalarGroups = Annotated[
    dict[str, Scalar | None],
    Meta(
        extra_json_schema={
            "extra": {"additional_properties": {"anyOf": [*_SCALAR_SCHEMA, {"type": "null"}]}}
        }
    ),
]


class MeterIn(RequestBody):
    """What to measure: events of one ``event_type``, aggregated, grouped by dimensions.

    ``value`` is required for every aggregation but ``count`` (which counts events and does
    not use it). ``sum``, ``min``, ``max`` and ``avg`` take ``quantities.*`` or
    ``properties.*`` and skip events whose value is not an integer.
    """

    event_type: Annotated[str, Meta(min_length=1, max_length=MAX_EVENT_TYPE)]
    aggregation: Aggregation
    value: Path | None = None
    group_by: Annotated[list[Dimension], Meta(max_length=MAX_GROUP_BY)] = msgspec.field(
        default_factory=list
    )

    def to_command(self, meter_id: str, idempotency_key: str | None) -> PutMeter:
        """The ledger command for this request."""
        return PutMeter(
            meter_id=meter_id,
            event_type=self.event_type,
            aggregation=self.aggregation,
            value=self.value,
            group_by=list(self.group_by),
            idempotency_key=idempotency_key,
        )


class MeterOut(ResponseBody):
    """One version of a meter's definition and the meter's latest version."""

    meter_id: str
    event_type: str
    aggregation: Aggregation
    value: str | None
    group_by: list[str]
    version: int
    created_at: datetime
    latest_version: int


class MeterPointOut(ResponseBody):
    """A meter's value in one UTC window for one group (a dimension the event lacked is
    null). ``value`` is an integer but for ``avg`` (a number) and ``latest`` (the value as
    the event held it)."""

    window_start: datetime
    group: ScalarGroups
    value: ScalarValue


class MeterSeriesOut(ResponseBody):
    """A meter per window and group, oldest window first; empty windows are left out."""

    series: list[MeterPointOut]
