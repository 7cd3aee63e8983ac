"""``/v1/wallets/{wallet_id}/allowances``: recurring grants, set by admins.

Unlike budgets (caps a customer may set on itself), an allowance issues credits, so only
admin keys set or remove one, as only they grant; reads are open to whoever reads the wallet.
"""

from __future__ import annotations

from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api.middleware.auth import ADMIN, READ
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import outcome_headers, render, respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.allowances import AllowanceIn, AllowanceOut, AllowancesOut
from ledger.app.commands import RemoveAllowance, SetAllowance
from ledger.app.service import CreditLedger

__all__ = ["ALLOWANCE_ROUTES", "AllowanceController"]


class AllowanceController(Controller):
    """Allowances: a grant every day, week, month or year, with capped rollover."""

    path = "/v1/wallets/{wallet_id:str}/allowances"
    tags = ["Allowances"]
    security = BEARER

    @put(
        "/{allowance_id:str}",
        operation_id="setAllowance",
        opt=decision(SetAllowance),
        response_headers=POSITION_HEADERS,
        summary="Create or change an allowance",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses={
            201: ResponseSpec(
                data_container=AllowanceOut, description="The allowance was created."
            ),
            **problems(401, 403, 404, 409, 422, 503),
        },
    )
    def set_allowance(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        allowance_id: PathId,
        data: JSONBody[AllowanceIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AllowanceOut]:
        """Create (201) or change (200) an allowance; a change takes effect next period.

        Each period's grant has the id ``<allowance_id>:<period start, UTC>``, is effective
        from the period start and expires at its end; it is recorded when the wallet is
        first touched in the period (or by ``ledger sweep``), dated at the period start, and
        counted by balances from then on either way. A new allowance whose terms cover the
        period under way grants it at once. With ``rollover``, what is left of a period's
        grant when it ends (at most ``max_amount``) is granted again as ``rollover`` credits
        until the end of the next period.
        """
        outcome = ledger.set_allowance(data.to_command(wallet_id, allowance_id, idempotency_key))
        created = bool(outcome.body.get("created"))
        return respond(outcome, AllowanceOut, HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/",
        operation_id="listAllowances",
        summary="List allowances",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def list_allowances(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId
    ) -> AllowancesOut:
        """All allowances of the wallet, with when each grants next."""
        return render({"allowances": ledger.allowances(wallet_id)}, AllowancesOut)

    @get(
        "/{allowance_id:str}",
        operation_id="getAllowance",
        summary="Read an allowance",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def get_allowance(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId, allowance_id: PathId
    ) -> AllowanceOut:
        """One allowance, with when it grants next."""
        return render(ledger.allowance(wallet_id, allowance_id), AllowanceOut)

    @delete(
        "/{allowance_id:str}",
        operation_id="removeAllowance",
        opt=decision(RemoveAllowance),
        response_headers=POSITION_HEADERS,
        summary="Remove an allowance",
        guards=[ADMIN],
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses={
            204: ResponseSpec(data_container=None, description="The allowance was removed."),
            **problems(401, 403, 404, 409, 422, 503),
        },
    )
    def remove_allowance(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        allowance_id: PathId,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[None]:
        """Remove an allowance: no further periods (and no rollover); grants made stay."""
        command = RemoveAllowance(
            wallet_id=wallet_id, allowance_id=allowance_id, idempotency_key=idempotency_key
        )
        outcome = ledger.remove_allowance(command)
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=outcome_headers(outcome))


ALLOWANCE_ROUTES = [AllowanceController]
