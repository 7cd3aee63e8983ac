"""``/v1/meters/{meter_id}`` (definitions) and ``/v1/wallets/{wallet_id}/meters/{meter_id}``.

Definitions live in the event store like price books (admin writes; admin, service and
auditor keys read). A wallet's meter series is computed from the meters read model (the
usage facts, :mod:`projections.meter_queries`) up to the position it has reached, like the
usage endpoint; customer keys may read their own wallets' meters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.middleware.auth import ADMIN, READ, allow
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.read_models import ReadModels
from api.rendering import render, respond
from api.routes.params import FromTime, IdempotencyKey, MinPosition, PathId, ToTime, parse_range
from api.schemas.meters import MeterIn, MeterOut, MeterSeriesOut
from ledger.app.meters import PutMeter, find_meter, meter_definition, put_meter
from ledger.app.service import CreditLedger
from ledger.domain.errors import MeterNotFound
from ledger.domain.validation import MAX_AMOUNT, check_id, fail
from ledger.metering.meters import MAX_GROUP_BY, dimension_path, dimension_paths
from projections.catalog import METERS
from projections.meter_queries import meter_series

__all__ = ["METER_ROUTES", "MeterController", "WalletMeterController", "query_dimensions"]

READ_METERS = allow("service", "auditor")
"""Reading definitions: shared by all wallets, so no customer key (like price books)."""

Version = Annotated[
    int | None,
    QueryParameter(
        ge=1, le=MAX_AMOUNT, description="An earlier version (1, 2, ...); the current by default."
    ),
]
GroupBy = Annotated[
    list[str] | None,
    QueryParameter(
        description="Dimensions to group by, comma-separated, repeated, or both: subject keys "
        "(model), subject.<key> or properties.<key>. Default: the meter's group_by; empty "
        "(group_by=): one group."
    ),
]


def query_dimensions(group_by: list[str] | None, default: list[str]) -> tuple[list[str], list[str]]:
    """(paths, labels) of the requested grouping: the meter's own unless one was asked for.

    A dimension named twice (``model`` and ``subject.model``) counts once, labelled as first
    spelled.
    """
    if group_by is None:
        return dimension_paths("group_by", default), list(default)
    chosen: dict[str, str] = {}
    for name in (k for value in group_by for k in value.split(",") if k):
        chosen.setdefault(dimension_path("group_by", name), name)
    if len(chosen) > MAX_GROUP_BY:
        raise fail("group_by", f"at most {MAX_GROUP_BY} dimensions")
    return list(chosen), list(chosen.values())


class MeterController(Controller):
    """Meter definitions: what to measure over the usage events, versioned."""

    path = "/v1/meters"
    tags = ["Meters"]
    security = BEARER

    @put(
        "/{meter_id:str}",
        operation_id="putMeter",
        opt=decision(PutMeter),
        response_headers=POSITION_HEADERS,
        summary="Define or change a meter",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses={
            201: ResponseSpec(data_container=MeterOut, description="The meter was defined."),
            **problems(401, 403, 409, 422, 503),
        },
    )
    def put_meter(
        self,
        ledger: NamedDependency[CreditLedger],
        meter_id: PathId,
        data: JSONBody[MeterIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MeterOut]:
        """Define a meter (201, version 1) or record its next version (200).

        A definition equal to the current version records nothing and answers it. Values
        are computed when read, from every usage event recorded, so a new or changed meter
        also measures the events recorded before it.
        """
        outcome = put_meter(ledger, data.to_command(meter_id, idempotency_key))
        created = bool(outcome.body.get("created"))
        return respond(outcome, MeterOut, HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/{meter_id:str}",
        operation_id="getMeter",
        summary="Read a meter's definition",
        guards=[READ_METERS],
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_meter(
        self, ledger: NamedDependency[CreditLedger], meter_id: PathId, version: Version = None
    ) -> MeterOut:
        """Read the current version of a meter, or the earlier ``version``.

        An unknown meter, or a version it does not have yet, answers 404 ``meter_not_found``.
        """
        return render(meter_definition(ledger, meter_id, version), MeterOut)


class WalletMeterController(Controller):
    """A meter's values for one wallet, per time window and group."""

    path = "/v1/wallets/{wallet_id:str}/meters"
    tags = ["Meters"]
    guards = [READ]
    security = BEARER

    @get(
        "/{meter_id:str}",
        operation_id="getWalletMeter",
        summary="Read a meter for a wallet",
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422, 503),
    )
    def get_wallet_meter(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        wallet_id: PathId,
        meter_id: PathId,
        *,
        from_: FromTime = None,
        to: ToTime = None,
        window: Annotated[
            Literal["hour", "day", "month"], QueryParameter(description="Window size (UTC).")
        ] = "day",
        group_by: GroupBy = None,
        min_position: MinPosition = 0,
    ) -> MeterSeriesOut:
        """The meter's value per UTC window and group, over the wallet's usage events.

        ``from``/``to`` select ``occurred_at`` in ``[from, to)`` (any RFC 3339 time: the
        facts are kept per event). ``count``, ``unique_count``, ``sum``, ``min`` and ``max``
        are integers, ``avg`` a number (the exact mean as the nearest double) and ``latest``
        the value of the latest event (ties: the later recorded). Events of other types or
        without the value do not count, and windows without any are left out. Answered from
        the meters read model up to the position it has reached; pass ``min_position`` (a
        ``Ledger-Position``) to include a write. Unknown meter: 404 ``meter_not_found``.
        """
        check_id("meter_id", meter_id)
        from_time, to_time = parse_range(from_, to)
        bounds = {"from": from_time, "to": to_time}
        requested = None if group_by is None else query_dimensions(group_by, [])
        ledger.load_wallet(wallet_id)  # 404 wallet_not_found, which the views cannot tell
        meter = find_meter(ledger, meter_id)
        if meter is None:
            raise MeterNotFound(meter_id)
        definition = meter.definition()
        if requested is None:
            requested = query_dimensions(None, definition.group_by)
        dimensions, labels = requested
        read_models.wait_for(min_position, [METERS.name])
        series = meter_series(
            read_models.views,
            wallet_id=wallet_id,
            definition=definition,
            from_=bounds["from"],
            to=bounds["to"],
            window=window,
            dimensions=dimensions,
            labels=labels,
        )
        return render(series, MeterSeriesOut)


METER_ROUTES = [MeterController, WalletMeterController]
