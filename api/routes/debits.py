"""``/v1/wallets/{wallet_id}/debits``: authorize-and-deduct, and refunds of a debit."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from api.auth import SPEND, Principal
from api.awaiting import answer, spending
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.debits import DebitIn, DebitOut, RefundIn, RefundOut
from api.spending import DEBIT
from ledger.commands import Debit, Refund
from ledger.service import CreditLedger

__all__ = ["DEBIT_ROUTES", "DebitController"]


class DebitController(Controller):
    """Debits: spend credits in one decision (balance and budgets), or give them back."""

    path = "/v1/wallets/{wallet_id:str}/debits"
    tags = ["Debits"]
    guards = [SPEND]
    security = BEARER

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
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        data: JSONBody[DebitIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[DebitOut]:
        """Debit ``amount`` if the balance and every matching hard budget allow it.

        Instead of ``amount``, ``usage`` (model and token counts) is rated against the
        wallet's price book; the answer then adds ``rating`` (422 ``unknown_model`` for a
        model without a rate). A refusal (402 ``insufficient_credits`` or
        ``budget_exceeded``) records nothing.
        """
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
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        debit_id: PathId,
        data: JSONBody[RefundIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RefundOut]:
        """Refund a debit, last-consumed grant first; credits of ended grants become breakage."""
        command = (data or RefundIn()).to_command(wallet_id, debit_id, idempotency_key)
        outcome = await answer(ledger, ledger.refund_later, command, request.user)
        return respond(outcome, RefundOut, HTTP_201_CREATED)


DEBIT_ROUTES = [DebitController]
