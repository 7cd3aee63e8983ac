"""``/v1/wallets/{wallet_id}/holds``: reserve credits, then capture or release them once."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.awaiting import answer, spending, spending_ledger
from api.middleware.auth import READ, Principal
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import render
from api.routes import lists
from api.routes.params import IdempotencyKey, PathId, json_body
from api.schemas.holds import (
    CaptureIn,
    CaptureOut,
    HoldIn,
    HoldOut,
    PlacedHoldOut,
    ReleaseOut,
)
from api.spending import CAPTURE, PLACE_HOLD, RELEASE
from ledger.app.commands import CaptureHold, PlaceHold, ReleaseHold
from ledger.app.service import CreditLedger

__all__ = ["HOLD_ROUTES", "HoldController"]

HOLD_BODY = json_body(
    amount={"hold_id": "h1", "amount": 50, "subject": {"user_id": "u1", "model": "gpt-4.1"}},
    usage={
        "hold_id": "h1",
        "usage": {"model": "gpt-4.1", "input_tokens": 1200, "output_tokens": 4000},
        "subject": {"user_id": "u1"},
    },
)
CAPTURE_BODY = json_body(
    amount={"amount": 30},
    usage={"usage": {"model": "gpt-4.1", "input_tokens": 1200, "output_tokens": 350}},
    all_of_it={},
)


class HoldController(Controller):
    """Holds: two-phase spending around an inference call."""

    path = "/v1/wallets/{wallet_id:str}/holds"
    tags = ["Holds"]
    security = BEARER

    list_holds = lists.list_holds  # GET .../holds (contract 1.1), in api.routes.lists

    @post(
        "/",
        operation_id="placeHold",
        opt=spending(PlaceHold),
        response_headers=POSITION_HEADERS,
        summary="Place a hold",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 402, 403, 404, 409, 422, 503),
    )
    async def place(
        self,
        request: Request[Principal, Any, Any],
        wallet_id: PathId,
        data: Annotated[HoldIn, HOLD_BODY],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PlacedHoldOut]:
        """Reserve credits from specific grants; they count against budgets until released.

        Instead of ``amount``, ``usage`` is rated against the wallet's price book (the
        answer adds ``rating``).
        """
        ledger = spending_ledger(request)
        command = data.to_command(wallet_id, idempotency_key)
        outcome = await answer(ledger, ledger.place_hold_later, command, request.user)
        return PLACE_HOLD.respond(outcome)

    @post(
        "/{hold_id:str}/capture",
        operation_id="captureHold",
        opt=spending(CaptureHold),
        response_headers=POSITION_HEADERS,
        summary="Capture a hold",
        status_code=HTTP_200_OK,
        responses=problems(401, 402, 403, 404, 409, 422, 503),
    )
    async def capture(
        self,
        *,
        request: Request[Principal, Any, Any],
        wallet_id: PathId,
        hold_id: PathId,
        data: Annotated[CaptureIn | None, CAPTURE_BODY] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CaptureOut]:
        """Capture the hold (all of it by default) and release the rest.

        ``usage`` instead of ``amount`` captures what it rates to (the answer adds
        ``rating``); its ``model`` must be the hold's ``subject.model`` when the hold names
        one (else 422 ``validation_error`` naming ``usage.model``). More than held needs
        ``allow_overage``; a hold not open answers 409 ``hold_not_open`` with its
        ``hold_status``.
        """
        ledger = spending_ledger(request)
        command = (data or CaptureIn()).to_command(wallet_id, hold_id, idempotency_key)
        outcome = await answer(ledger, ledger.capture_hold_later, command, request.user)
        return CAPTURE.respond(outcome)

    @post(
        "/{hold_id:str}/release",
        operation_id="releaseHold",
        opt=spending(ReleaseHold),
        response_headers=POSITION_HEADERS,
        summary="Release a hold",
        status_code=HTTP_200_OK,
        responses=problems(401, 403, 404, 409, 422, 503),
    )
    async def release(
        self,
        request: Request[Principal, Any, Any],
        wallet_id: PathId,
        hold_id: PathId,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReleaseOut]:
        """Release the hold: every held credit goes back (or to breakage if its grant ended)."""
        ledger = spending_ledger(request)
        command = ReleaseHold(wallet_id=wallet_id, hold_id=hold_id, idempotency_key=idempotency_key)
        outcome = await answer(ledger, ledger.release_hold_later, command, request.user)
        return RELEASE.respond(outcome)

    @get(
        "/{hold_id:str}",
        operation_id="getHold",
        summary="Read a hold",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def get_hold(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId, hold_id: PathId
    ) -> HoldOut:
        """Read a hold, open or resolved (captured, released or expired)."""
        return render(ledger.hold(wallet_id, hold_id), HoldOut)


HOLD_ROUTES = [HoldController]
