"""Meter commands and reads, on any ledger application (meters have no wallet).

* :func:`put_meter` defines a meter (version 1) or records its next version, idempotent
  like every command (keys are server-wide, scope :data:`METERS_SCOPE`). A PUT equal to the
  current version records nothing and answers it with ``created`` False (the client's key
  is still recorded, as for price books).
* :func:`meter_definition` reads the current version of a meter or an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.app.application import LedgerApplication
from ledger.app.commands import Command
from ledger.app.executor import Decision, Outcome
from ledger.domain.errors import MeterNotFound
from ledger.domain.validation import check_amount, check_id
from ledger.metering.meters import Meter, check_definition, meter_uuid

__all__ = ["METERS_SCOPE", "PutMeter", "find_meter", "meter_definition", "put_meter"]

METERS_SCOPE = "#meters"
"""The receipt scope of meter commands: server-wide, and never a wallet id (``#``)."""


@dataclass(frozen=True, kw_only=True)
class PutMeter(Command):
    meter_id: str
    event_type: str
    aggregation: str
    value: str | None = None
    group_by: list[str] = field(default_factory=list)


def put_meter(app: LedgerApplication, cmd: PutMeter) -> Outcome:
    """Define a meter (version 1) or record its next version.

    Body: ``meter_id``, ``event_type``, ``aggregation``, ``value``, ``group_by``,
    ``version``, ``created_at`` (of that version), ``latest_version`` and ``created`` (True
    only when this call made version 1: HTTP 201, else 200).
    """
    check_id("meter_id", cmd.meter_id)
    definition = check_definition(cmd.event_type, cmd.aggregation, cmd.value, list(cmd.group_by))
    key, given = app.key_of(cmd)

    def decide(_: bool) -> Decision:
        at = app.now()
        meter = find_meter(app, cmd.meter_id)
        if meter is None:
            meter = Meter.define(
                meter_id=cmd.meter_id,
                definition=definition,
                idempotency_key=key if given else None,
                at=at,
            )
            return Decision({**meter.view(), "created": True}, [meter])
        changed = meter.redefine(
            definition=definition, idempotency_key=key if given else None, at=at
        )
        return Decision({**meter.view(), "created": False}, [meter] if changed else [])

    # The one write loop of the ledger (receipts, replays, retries): meters share it.
    return app.writer.run(
        scope=METERS_SCOPE,
        key=key,
        key_given=given,
        command=cmd,
        decide=decide,
        receipt_when_unchanged=True,
    )


def find_meter(app: LedgerApplication, meter_id: str) -> Meter | None:
    found = app.find(meter_uuid(meter_id))
    return found if isinstance(found, Meter) else None


def meter_definition(
    app: LedgerApplication, meter_id: str, version: int | None = None
) -> dict[str, Any]:
    """The current version of a meter, or ``version`` (1, 2, ...) of it (the body of
    :func:`put_meter` without ``created``); ``meter_not_found`` when there is none."""
    check_id("meter_id", meter_id)
    if version is not None:
        check_amount("version", version)
    meter = find_meter(app, meter_id)
    if meter is None:
        raise MeterNotFound(meter_id)
    if version is not None and version > meter.latest_version:
        raise MeterNotFound(meter_id, version)
    return meter.view(version)
