"""``/v1/wallets/{wallet_id}/debits``: authorize-and-deduct, and refunds of a debit."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from api.awaiting import answer, spending, spending_ledger
from api.middleware.auth import Principal
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import respond
from api.routes import lists
from api.routes.params import IdempotencyKey, PathId, json_body
from api.schemas.debits import DebitIn, DebitOut, RefundIn, RefundOut
from api.spending import DEBIT
from ledger.app.commands import Debit, Refund

__all__ = ["DEBIT_ROUTES", "DebitController"]

_USAGE = {"model": "gpt-4.1", "input_tokens": 1200, "cached_input_tokens": 0, "output_tokens": 350}
DEBIT_BODY = json_body(
    amount={
        "amount": 30,
        "subject": {"user_id": "u1", "team_id": "t1", "model": "gpt-4.1"},
        "metadata": {"request_id": "r-9"},
    },
    usage={"usage": _USAGE, "subject": {"user_id": "u1", "team_id": "t1"}},
)


class DebitController(Controller):
    """Debits: spend credits in one decision (balance and budgets), or give them back."""

    path = "/v1/wallets/{wallet_id:str}/debits"
    tags = ["Debits"]
    security = BEARER

    # Guards per handler: the list (contract 1.1, in api.routes.lists) is a read.
    list_debits = lists.list_debits

    @post(
        "/",
        operation_id="debitWallet",
        opt=spending(Debit),
        response_headers=POSITION_HEADERS,
        summary="Debit a wallet",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 402, 403, 404, 409, 422, 503),
    )
    async def debit(
        self,
        request: Request[Principal, Any, Any],
        wallet_id: PathId,
        data: Annotated[DebitIn, DEBIT_BODY],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[DebitOut]:
        """Debit ``amount`` if the balance and every matching hard budget allow it.

        Instead of ``amount``, ``usage`` (model and token counts) is rated against the
        wallet's price book; the answer then adds ``rating`` (422 ``unknown_model`` for a
        model without a rate). ``usage.input_tokens`` counts uncached input only: OpenAI's
        ``prompt_tokens`` include ``cached_tokens`` (subtract them), Anthropic's
        ``input_tokens`` already exclude cache reads. A refusal (402 ``insufficient_credits`` or
        ``budget_exceeded``) records nothing.
        """
        ledger = spending_ledger(request)
        command = data.to_command(wallet_id, idempotency_key)
        outcome = await answer(ledger, ledger.debit_later, command, request.user)
        return DEBIT.respond(outcome)

    @post(
        "/{debit_id:str}/refunds",
        operation_id="refundDebit",
        opt=spending(Refund),
        response_headers=POSITION_HEADERS,
        summary="Refund a debit",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 403, 404, 409, 422, 503),
    )
    async def refund(
        self,
        *,
        request: Request[Principal, Any, Any],
        wallet_id: PathId,
        debit_id: PathId,
        data: JSONBody[RefundIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RefundOut]:
        """Refund a debit, last-consumed grant first; credits of ended grants become breakage."""
        ledger = spending_ledger(request)
        command = (data or RefundIn()).to_command(wallet_id, debit_id, idempotency_key)
        outcome = await answer(ledger, ledger.refund_later, command, request.user)
        return respond(outcome, RefundOut, HTTP_201_CREATED)


DEBIT_ROUTES = [DebitController]
