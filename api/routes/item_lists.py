"""The server-wide lists of contract 1.1 (API keys, webhooks, meters, price books) and
``GET /v1/whoami``.

``list_api_keys`` is a handler of ``ApiKeyController`` (litestar serves one controller per
path, see :mod:`api.routes.lists`); the other lists have paths of their own.

Which items exist, and in which order they were created, comes from the ``lists`` read
model; each listed item is then read from its aggregate, so it is exactly what its single
GET answers now (and an API key never shows its secret, which is not stored anyway).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.middleware.auth import ADMIN, BOOTSTRAP_KEY_ID, allow
from api.openapi import BEARER, problems
from api.read_models import ReadModels
from api.rendering import render
from api.routes.lists import Limit, principal_of
from api.routes.params import MinPosition
from api.schemas.lists import ApiKeysOut, MetersOut, PriceBooksOut, WebhooksOut, WhoAmIOut
from ledger.access.keys import ApiKey
from ledger.alerts.webhooks import Webhook
from ledger.app.keys import find_key
from ledger.app.service import CreditLedger
from ledger.domain.validation import MAX_POSITION
from ledger.metering.meters import Meter
from ledger.metering.price_books import PriceBook
from projections.catalog import LISTS
from projections.list_queries import item_page

__all__ = [
    "ITEM_LIST_ROUTES",
    "MeterListController",
    "PriceBookListController",
    "WebhookListController",
    "WhoAmIController",
    "api_key_item",
    "list_api_keys",
]

READ_PRICE_BOOK_LIST = allow("auditor")
"""Listing price books: admin and auditor keys (the contract's list; service keys read one)."""
ItemCursor = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=MAX_POSITION,
        description="The `next_after` of the previous page; 0 (the default) for the first.",
    ),
]


def api_key_item(key: ApiKey) -> dict[str, Any]:
    """A key as lists show it: never the key itself."""
    return {
        "key_id": key.key_id,
        "scopes": list(key.scopes),
        "name": key.name,
        "created_at": key.issued_at,
        "revoked_at": key.revoked_at,
    }


def _items(  # noqa: PLR0917 - one page of one kind: each argument is needed
    ledger: CreditLedger,
    read_models: ReadModels,
    kind: str,
    aggregate: type[Any],
    after: int,
    limit: int,
    min_position: int,
) -> tuple[list[Any], int | None]:
    """The aggregates of one page of ``kind`` (server-wide: in the home shard)."""
    read_models.wait_for(min_position, [LISTS.name])
    ids, next_after = item_page(read_models.views, kind, after=after, limit=limit)
    found = [ledger.home.find(aggregate_id) for aggregate_id in ids]
    return [item for item in found if isinstance(item, aggregate)], next_after


@get(
    "/",
    operation_id="listApiKeys",
    summary="List API keys",
    sync_to_thread=True,
    responses=problems(401, 403, 422, 503),
)
def list_api_keys(
    _controller: Controller,
    *,
    ledger: NamedDependency[CreditLedger],
    read_models: NamedDependency[ReadModels],
    after: ItemCursor = 0,
    limit: Limit = 100,
    min_position: MinPosition = 0,
) -> ApiKeysOut:
    """API keys in the order they were issued: id, scopes, name, ``created_at`` and
    ``revoked_at`` (null while it works). Never the key itself. The bootstrap key of the
    server's settings is not stored, so it is not listed."""
    keys, next_after = _items(ledger, read_models, "api_key", ApiKey, after, limit, min_position)
    body = {"api_keys": [api_key_item(key) for key in keys], "next_after": next_after}
    return render(body, ApiKeysOut)


class WebhookListController(Controller):
    """Every webhook (admin)."""

    path = "/v1/webhooks"
    tags = ["Alerts"]
    guards = [ADMIN]
    security = BEARER

    @get(
        "/",
        operation_id="listWebhooks",
        summary="List webhooks",
        sync_to_thread=True,
        responses=problems(401, 403, 422, 503),
    )
    def list_webhooks(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        after: ItemCursor = 0,
        limit: Limit = 100,
        min_position: MinPosition = 0,
    ) -> WebhooksOut:
        """Webhooks in the order they were created, each as ``GET /v1/webhooks/{id}``
        (never the secret); deleted ones are left out."""
        hooks, next_after = _items(
            ledger, read_models, "webhook", Webhook, after, limit, min_position
        )
        views = [hook.view() for hook in hooks if hook.active]
        return render({"webhooks": views, "next_after": next_after}, WebhooksOut)


class MeterListController(Controller):
    """Every meter (admin)."""

    path = "/v1/meters"
    tags = ["Meters"]
    guards = [ADMIN]
    security = BEARER

    @get(
        "/",
        operation_id="listMeters",
        summary="List meters",
        sync_to_thread=True,
        responses=problems(401, 403, 422, 503),
    )
    def list_meters(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        after: ItemCursor = 0,
        limit: Limit = 100,
        min_position: MinPosition = 0,
    ) -> MetersOut:
        """Meters in the order they were defined, each as ``GET /v1/meters/{id}`` (its
        current version)."""
        meters, next_after = _items(ledger, read_models, "meter", Meter, after, limit, min_position)
        body = {"meters": [meter.view() for meter in meters], "next_after": next_after}
        return render(body, MetersOut)


class PriceBookListController(Controller):
    """Every price book (admin and auditor)."""

    path = "/v1/price-books"
    tags = ["Rating"]
    guards = [READ_PRICE_BOOK_LIST]
    security = BEARER

    @get(
        "/",
        operation_id="listPriceBooks",
        summary="List price books",
        sync_to_thread=True,
        responses=problems(401, 403, 422, 503),
    )
    def list_price_books(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        after: ItemCursor = 0,
        limit: Limit = 100,
        min_position: MinPosition = 0,
    ) -> PriceBooksOut:
        """Price books in the order they were created, each as
        ``GET /v1/price-books/{id}`` (its current version)."""
        books, next_after = _items(
            ledger, read_models, "price_book", PriceBook, after, limit, min_position
        )
        body = {"price_books": [book.view() for book in books], "next_after": next_after}
        return render(body, PriceBooksOut)


class WhoAmIController(Controller):
    """The calling key (any key): what the console shows and offers depends on it."""

    path = "/v1/whoami"
    tags = ["API keys"]
    security = BEARER

    @get(
        "/",
        operation_id="whoAmI",
        summary="Describe the calling API key",
        sync_to_thread=True,
        responses=problems(401),
    )
    def who_am_i(
        self, request: Request[Any, Any, Any], ledger: NamedDependency[CreditLedger]
    ) -> WhoAmIOut:
        """The calling key's id, name and scopes; the server's bootstrap key is
        ``bootstrap`` with scope ``admin``."""
        principal = principal_of(request)
        key = None if principal.key_id == BOOTSTRAP_KEY_ID else find_key(ledger, principal.key_id)
        name = "bootstrap admin key" if key is None else key.name
        body = {"key_id": principal.key_id, "name": name, "scopes": sorted(principal.scopes)}
        return render(body, WhoAmIOut)


ITEM_LIST_ROUTES = [
    WebhookListController,
    MeterListController,
    PriceBookListController,
    WhoAmIController,
]
