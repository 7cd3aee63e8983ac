"""``/v1/wallets/{wallet_id}/grants``: add credits, and void what is left of a grant."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.middleware.auth import ADMIN
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.grants import GrantIn, GrantOut, VoidGrantIn
from ledger.app.commands import GrantCredits, VoidGrant
from ledger.app.service import CreditLedger

__all__ = ["GRANT_ROUTES", "GrantController"]


class GrantController(Controller):
    """Grants: credits added to a wallet (admin only)."""

    path = "/v1/wallets/{wallet_id:str}/grants"
    tags = ["Grants"]
    guards = [ADMIN]
    security = BEARER

    @post(
        "/",
        operation_id="grantCredits",
        opt=decision(GrantCredits),
        response_headers=POSITION_HEADERS,
        summary="Grant credits",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(401, 403, 404, 409, 422),
    )
    def grant(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        data: JSONBody[GrantIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[GrantOut]:
        """Grant credits; a grant usable now first pays any debt (``debt_settled``)."""
        outcome = ledger.grant(data.to_command(wallet_id, idempotency_key))
        return respond(outcome, GrantOut, HTTP_201_CREATED)

    @post(
        "/{grant_id:str}/void",
        operation_id="voidGrant",
        opt=decision(VoidGrant),
        response_headers=POSITION_HEADERS,
        summary="Void a grant",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(401, 403, 404, 409, 422),
    )
    def void(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        grant_id: PathId,
        data: JSONBody[VoidGrantIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[GrantOut]:
        """Void a grant: its remaining credits go to ``voided``; credits it has on hold stay."""
        command = (data or VoidGrantIn()).to_command(wallet_id, grant_id, idempotency_key)
        return respond(ledger.void_grant(command), GrantOut, HTTP_200_OK)


GRANT_ROUTES = [GrantController]
