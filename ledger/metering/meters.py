"""Meters: what to measure over a wallet's usage events, one event-sourced aggregate each.

A meter names an event ``type``, an ``aggregation`` and the ``value`` it aggregates, a path
into the usage event (``quantities.<k>``, ``subject.<k>`` or ``properties.<k>``), and the
dimensions it groups by (``group_by``: ``subject.<k>`` or ``properties.<k>``; a bare name
means a subject key, so ``"model"`` is ``subject.model``). The values are computed at query
time from the usage facts (``projections.models.meters``), so a meter defined today also measures
the events recorded before it, and a redefinition changes every answer, past windows too.

Aggregations: ``count`` (events; ``value`` optional and not used), ``unique_count``
(distinct values), ``sum``, ``min``, ``max``, ``avg`` (over integer values only: an event
whose value is not a JSON integer is skipped) and ``latest`` (the value of the latest event
by ``occurred_at``, ties broken by log order). Only events that hold the value count for
every aggregation but ``count``.

Like price books, every event of a meter is one complete version of its definition (the
aggregate's version *is* the meter's version), and a PUT equal to the current version
records nothing. Topics are explicit and never change: ``ledger:Meter``,
``ledger:Meter.Defined``, ``ledger:Meter.Redefined``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.ids import ledger_uuid5
from ledger.domain.state import SUBJECT_KEYS
from ledger.domain.validation import fail

__all__ = [
    "AGGREGATIONS",
    "MAX_GROUP_BY",
    "METER_TOPICS",
    "NUMERIC_AGGREGATIONS",
    "PATH_KEY",
    "VALUE_ROOTS",
    "Meter",
    "MeterDefined",
    "MeterDefinition",
    "MeterRedefined",
    "check_definition",
    "dimension_path",
    "dimension_paths",
    "meter_uuid",
]

AGGREGATIONS = ("count", "sum", "unique_count", "min", "max", "avg", "latest")
NUMERIC_AGGREGATIONS = frozenset({"sum", "min", "max", "avg"})
MAX_GROUP_BY = 8
MAX_EVENT_TYPE = 128
PATH_KEY = re.compile(r"[A-Za-z0-9_:-]{1,64}")
_KEY_RULE = "1-64 characters of A-Z a-z 0-9 _ : -"
VALUE_ROOTS = ("quantities", "subject", "properties")
DIMENSION_ROOTS = ("subject", "properties")


def meter_uuid(meter_id: str) -> UUID:
    return ledger_uuid5(f"meter/{meter_id}")


def _path(field_name: str, path: str, roots: tuple[str, ...]) -> str:
    root, dot, key = path.partition(".")
    if not dot or root not in roots:
        allowed = " or ".join(f"{r}.<key>" for r in roots)
        raise fail(field_name, f"{path!r} is not a path: use {allowed}")
    if root == "subject" and key not in SUBJECT_KEYS:
        raise fail(
            field_name, f"unknown subject key {key!r}; known: {', '.join(sorted(SUBJECT_KEYS))}"
        )
    if not PATH_KEY.fullmatch(key):
        raise fail(field_name, f"key {key!r} must be {_KEY_RULE}")
    return path


def dimension_path(field_name: str, name: str) -> str:
    """The full path of a grouping dimension: a bare name is a subject key."""
    if "." not in name:
        return _path(field_name, f"subject.{name}", DIMENSION_ROOTS)
    return _path(field_name, name, DIMENSION_ROOTS)


def dimension_paths(field_name: str, names: list[str]) -> list[str]:
    """Full paths of ``names`` (at most :data:`MAX_GROUP_BY`, none named twice)."""
    if len(names) > MAX_GROUP_BY:
        raise fail(field_name, f"at most {MAX_GROUP_BY} dimensions")
    paths = [dimension_path(field_name, name) for name in names]
    if len(set(paths)) != len(paths):
        raise fail(field_name, "names a dimension twice")
    return paths


@dataclass(frozen=True)
class MeterDefinition:
    """A checked definition; ``group_by`` as the client spelled it."""

    event_type: str
    aggregation: str
    value: str | None
    group_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "aggregation": self.aggregation,
            "value": self.value,
            "group_by": list(self.group_by),
        }


def check_definition(
    event_type: str, aggregation: str, value: str | None, group_by: list[str]
) -> MeterDefinition:
    """The definition, or ``validation_error`` naming the first wrong field."""
    if not 1 <= len(event_type) <= MAX_EVENT_TYPE:
        raise fail("event_type", f"must be 1-{MAX_EVENT_TYPE} characters")
    if aggregation not in AGGREGATIONS:
        raise fail("aggregation", f"must be one of {', '.join(AGGREGATIONS)}")
    if value is None and aggregation != "count":
        raise fail("value", f"is required for {aggregation}")
    if value is not None:
        roots = ("quantities", "properties") if aggregation in NUMERIC_AGGREGATIONS else VALUE_ROOTS
        _path("value", value, roots)
    dimension_paths("group_by", group_by)
    return MeterDefinition(event_type, aggregation, value, list(group_by))


class MeterEvent(Aggregate.Event):
    """Base of meter events: each is one complete version of the definition."""

    TOPIC: ClassVar[str]

    occurred_at: datetime
    event_type: str
    aggregation: str
    value: str | None
    group_by: list[str]
    idempotency_key: str | None

    def apply(self, aggregate: Any) -> None:
        meter: Meter = aggregate
        meter.versions.append(
            {
                **self.definition().as_dict(),
                "version": self.originator_version,
                "created_at": self.occurred_at,
            }
        )

    def definition(self) -> MeterDefinition:
        return MeterDefinition(self.event_type, self.aggregation, self.value, list(self.group_by))


class MeterDefined(MeterEvent, Aggregate.Created):
    TOPIC = "ledger:Meter.Defined"
    meter_id: str

    def apply(self, aggregate: Any) -> None:
        meter: Meter = aggregate
        meter.meter_id = self.meter_id
        super().apply(meter)


class MeterRedefined(MeterEvent):
    TOPIC = "ledger:Meter.Redefined"


class Meter(Aggregate):
    TOPIC = "ledger:Meter"
    Event = MeterEvent
    Created = MeterDefined

    meter_id: str
    # Not a field of the created event (see PriceBook): the versions start empty.
    versions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def define(
        cls,
        *,
        meter_id: str,
        definition: MeterDefinition,
        idempotency_key: str | None,
        at: datetime,
    ) -> Meter:
        """Version 1 of a new meter (``definition`` already checked)."""
        return cls._create(
            MeterDefined,
            id=meter_uuid(meter_id),
            meter_id=meter_id,
            occurred_at=at,
            idempotency_key=idempotency_key,
            **definition.as_dict(),
        )

    @property
    def latest_version(self) -> int:
        return len(self.versions)

    def definition(self, version: int | None = None) -> MeterDefinition:
        """A version's definition (the current by default); ``version`` must exist."""
        chosen = self.versions[(version or self.latest_version) - 1]
        return MeterDefinition(
            chosen["event_type"], chosen["aggregation"], chosen["value"], list(chosen["group_by"])
        )

    def redefine(
        self, *, definition: MeterDefinition, idempotency_key: str | None, at: datetime
    ) -> bool:
        """Record the next version; False (and nothing recorded) when nothing would change."""
        if self.definition() == definition:
            return False
        self.trigger_event(
            MeterRedefined,
            occurred_at=max(at, self.versions[-1]["created_at"]),
            idempotency_key=idempotency_key,
            **definition.as_dict(),
        )
        return True

    def view(self, version: int | None = None) -> dict[str, Any]:
        """A version (the latest by default) as the API shows it; ``version`` must exist."""
        chosen = self.versions[(version or self.latest_version) - 1]
        return {
            "meter_id": self.meter_id,
            **self.definition(chosen["version"]).as_dict(),
            "version": chosen["version"],
            "created_at": chosen["created_at"],
            "latest_version": self.latest_version,
        }


METER_TOPICS: list[str] = [MeterDefined.TOPIC, MeterRedefined.TOPIC]

for _event_class in (MeterDefined, MeterRedefined):
    register_topic(_event_class.TOPIC, _event_class)
