"""``/v1/wallets/{wallet_id}/budgets``: spending caps, set by admins or the wallet's customer."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api.middleware.auth import MANAGE_BUDGETS, READ
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import outcome_headers, render, respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.budgets import BudgetIn, BudgetOut, BudgetsOut
from ledger.app.commands import RemoveBudget, SetBudget
from ledger.app.service import CreditLedger

__all__ = ["BUDGET_ROUTES", "BudgetController"]


class BudgetController(Controller):
    """Budgets: caps per user, team, agent, project, feature or model, by period."""

    path = "/v1/wallets/{wallet_id:str}/budgets"
    tags = ["Budgets"]
    security = BEARER

    @put(
        "/{budget_id:str}",
        operation_id="setBudget",
        opt=decision(SetBudget),
        response_headers=POSITION_HEADERS,
        summary="Create or change a budget",
        guards=[MANAGE_BUDGETS],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses={
            201: ResponseSpec(data_container=BudgetOut, description="The budget was created."),
            **problems(401, 403, 404, 409, 422, 503),
        },
    )
    def set_budget(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        budget_id: PathId,
        data: JSONBody[BudgetIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BudgetOut]:
        """Create (201) or change (200) a budget; a changed scope or period recounts history."""
        outcome = ledger.set_budget(data.to_command(wallet_id, budget_id, idempotency_key))
        created = bool(outcome.body.get("created"))
        return respond(outcome, BudgetOut, HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/",
        operation_id="listBudgets",
        summary="List budgets",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def list_budgets(self, ledger: NamedDependency[CreditLedger], wallet_id: PathId) -> BudgetsOut:
        """All budgets of the wallet, with what each has spent in its current period."""
        return render({"budgets": ledger.budgets(wallet_id)}, BudgetsOut)

    @get(
        "/{budget_id:str}",
        operation_id="getBudget",
        summary="Read a budget",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def get_budget(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId, budget_id: PathId
    ) -> BudgetOut:
        """One budget, with what it has spent in its current period."""
        return render(ledger.budget(wallet_id, budget_id), BudgetOut)

    @delete(
        "/{budget_id:str}",
        operation_id="removeBudget",
        opt=decision(RemoveBudget),
        response_headers=POSITION_HEADERS,
        summary="Remove a budget",
        guards=[MANAGE_BUDGETS],
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses={
            204: ResponseSpec(data_container=None, description="The budget was removed."),
            **problems(401, 403, 404, 409, 422, 503),
        },
    )
    def remove_budget(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        budget_id: PathId,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[None]:
        """Remove a budget; requests are no longer checked against it."""
        command = RemoveBudget(
            wallet_id=wallet_id, budget_id=budget_id, idempotency_key=idempotency_key
        )
        outcome = ledger.remove_budget(command)
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=outcome_headers(outcome))


BUDGET_ROUTES = [BudgetController]
