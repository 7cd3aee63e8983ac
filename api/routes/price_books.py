"""``/v1/price-books``: versioned rates that turn token usage into credits."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.middleware.auth import ADMIN, READ_PRICE_BOOKS
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import render, respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.price_books import PriceBookIn, PriceBookOut
from ledger.app.commands import PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.validation import MAX_AMOUNT

__all__ = ["PRICE_BOOK_ROUTES", "PriceBookController"]

Version = Annotated[
    int | None,
    QueryParameter(
        ge=1, le=MAX_AMOUNT, description="An earlier version (1, 2, ...); the current by default."
    ),
]


class PriceBookController(Controller):
    """Price books: integer credits per 1,000,000 tokens of each kind, by model, versioned."""

    path = "/v1/price-books"
    tags = ["Price books"]
    security = BEARER

    @put(
        "/{price_book_id:str}",
        operation_id="putPriceBook",
        opt=decision(PutPriceBook),
        response_headers=POSITION_HEADERS,
        summary="Create or change a price book",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses={
            201: ResponseSpec(
                data_container=PriceBookOut, description="The price book was created."
            ),
            **problems(401, 403, 409, 422, 503),
        },
    )
    def put_price_book(
        self,
        ledger: NamedDependency[CreditLedger],
        price_book_id: PathId,
        data: JSONBody[PriceBookIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PriceBookOut]:
        """Create a price book (201, version 1) or record its next version (200).

        Rates equal to the current version's (in any order) record nothing and answer the
        current version. Debits, holds and captures that give ``usage`` are rated against
        the current version of their wallet's price book; the version used is recorded.
        """
        outcome = ledger.put_price_book(data.to_command(price_book_id, idempotency_key))
        created = bool(outcome.body.get("created"))
        return respond(outcome, PriceBookOut, HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/{price_book_id:str}",
        operation_id="getPriceBook",
        summary="Read a price book",
        guards=[READ_PRICE_BOOKS],
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_price_book(
        self,
        ledger: NamedDependency[CreditLedger],
        price_book_id: PathId,
        version: Version = None,
    ) -> PriceBookOut:
        """Read the current version of a price book, or the earlier ``version``.

        An unknown book, or a version it does not have yet, answers 404 ``price_book_not_found``.
        """
        return render(ledger.price_book(price_book_id, version), PriceBookOut)


PRICE_BOOK_ROUTES = [PriceBookController]
