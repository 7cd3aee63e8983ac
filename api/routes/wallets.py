"""``/v1/wallets``: open a wallet, read it (now or as of a time), page through its events."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from api.middleware.auth import ADMIN, READ
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import render, respond
from api.routes import lists
from api.routes.params import AsOf, IdempotencyKey, PathId, parse_time
from api.schemas.wallets import EventsOut, OpenWalletIn, WalletAsOfOut, WalletOut
from ledger.app.commands import OpenWallet
from ledger.app.service import CreditLedger
from ledger.domain.validation import MAX_POSITION

__all__ = ["WALLET_ROUTES", "WalletController"]


class WalletController(Controller):
    """Wallets: the unit of balance, history and consistency."""

    path = "/v1/wallets"
    tags = ["Wallets"]
    security = BEARER

    list_wallets = lists.list_wallets  # GET /v1/wallets (contract 1.1), in api.routes.lists

    @post(
        "/",
        operation_id="openWallet",
        opt=decision(OpenWallet),
        response_headers=POSITION_HEADERS,
        summary="Open a wallet",
        guards=[ADMIN],
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(401, 403, 409, 422),
    )
    def open_wallet(
        self,
        ledger: NamedDependency[CreditLedger],
        data: JSONBody[OpenWalletIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WalletOut]:
        """Open a wallet (admin). An existing ``wallet_id`` answers 409 ``wallet_exists``."""
        outcome = ledger.open_wallet(data.to_command(idempotency_key))
        return respond(outcome, WalletOut, HTTP_201_CREATED)

    @get(
        "/{wallet_id:str}",
        operation_id="getWallet",
        summary="Read a wallet",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_wallet(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId, as_of: AsOf = None
    ) -> WalletAsOfOut:
        """Read a wallet: balance, grants and budgets, now or ``as_of`` a past time.

        A future ``as_of`` answers what the wallet will hold then if nothing else happens.
        Reaching it may apply at most 1,000 expiries and allowance periods (a daily
        allowance: about three years ahead); further is refused with 422
        ``validation_error`` on ``as_of`` rather than computed. A read of now is never
        refused this way.
        """
        return render(ledger.wallet(wallet_id, parse_time("as_of", as_of)), WalletAsOfOut)

    @get(
        "/{wallet_id:str}/events",
        operation_id="listWalletEvents",
        summary="List a wallet's events",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def list_events(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        after_version: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> EventsOut:
        """Page through a wallet's recorded events, oldest first, after ``after_version``."""
        return render(ledger.wallet_events(wallet_id, after_version, limit), EventsOut)


WALLET_ROUTES = [WalletController]
