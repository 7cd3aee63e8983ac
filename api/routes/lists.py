"""The wallet lists of contract 1.1: wallets, a wallet's debits (and one debit), its holds.

Litestar serves one controller per path, so the handlers at a path that already has one
(``list_wallets``, ``list_debits``, ``list_holds``) are defined here and made handlers of
that controller by one line there (``list_wallets = lists.list_wallets``).

Answered from the ``lists`` read model (:mod:`projections.list_queries`), up to the
position it has reached; ``?min_position=`` (a command's ``Ledger-Position``) first waits
for a position, as for the other read-model reads. A listed wallet's ``balance`` is read
from the wallet itself, now. Why a read model: docs/decisions/0019-lists-from-a-read-model.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.errors import Unauthenticated
from api.middleware.auth import READ, Principal
from api.openapi import BEARER, problems
from api.read_models import ReadModels
from api.rendering import render
from api.routes.params import MinPosition, PathId
from api.schemas.lists import DebitDetailOut, DebitsOut, HoldsOut, WalletsOut
from ledger.app.service import CreditLedger
from ledger.domain.errors import DebitNotFound
from ledger.domain.validation import MAX_POSITION
from projections.catalog import LISTS
from projections.list_queries import debit_page, find_debit, hold_page, wallet_page

__all__ = [
    "LIST_ROUTES",
    "DebitReadController",
    "Limit",
    "ListCursor",
    "Order",
    "list_debits",
    "list_holds",
    "list_wallets",
    "principal_of",
]

STAFF_SCOPES = frozenset({"admin", "service", "auditor"})
"""Scopes that list every customer's wallets."""

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=1000, description="At most this many items (1-1000, default 100)."),
]
ListCursor = Annotated[
    int | None,
    QueryParameter(
        ge=0,
        le=MAX_POSITION,
        description="The `next_after` of the previous page; absent for the first page.",
    ),
]
Order = Annotated[
    Literal["asc", "desc"],
    QueryParameter(description="`asc`: oldest first (the default); `desc`: newest first."),
]


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The caller the authentication middleware found."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return principal


@get(
    "/",
    operation_id="listWallets",
    summary="List wallets",
    sync_to_thread=True,
    responses=problems(401, 422, 503),
)
def list_wallets(
    _controller: Controller,
    *,
    request: Request[Any, Any, Any],
    ledger: NamedDependency[CreditLedger],
    read_models: NamedDependency[ReadModels],
    customer_id: Annotated[
        str | None, QueryParameter(description="Only this customer's wallets.")
    ] = None,
    after: Annotated[
        str | None,
        QueryParameter(description="The `next_after` of the previous page (a wallet id)."),
    ] = None,
    limit: Limit = 100,
    min_position: MinPosition = 0,
) -> WalletsOut:
    """Wallets ordered by ``wallet_id``, after ``after``; ``customer_id`` filters.

    Admin, service and auditor keys list every wallet; a ``customer:<id>`` key lists only
    its customers' wallets (asking for another customer's answers an empty list, as a
    wallet of another customer answers 404). ``balance`` is each wallet's balance now.
    Which wallets exist comes from the lists read model: pass ``min_position`` (the
    ``Ledger-Position`` of opening a wallet) to include a wallet just opened.
    """
    principal = principal_of(request)
    allowed = None if principal.scopes & STAFF_SCOPES else principal.customer_ids
    read_models.wait_for(min_position, [LISTS.name])
    page = wallet_page(
        read_models.views, customer_id=customer_id, allowed=allowed, after=after, limit=limit
    )
    wallets = []
    for item in page.items:
        wallet, at = ledger.wallet_at(item["wallet_id"])
        wallets.append({**item, "balance": wallet.balance(at)})
    return render({"wallets": wallets, "next_after": page.next_after}, WalletsOut)


@get(
    "/",
    operation_id="listDebits",
    summary="List a wallet's debits",
    guards=[READ],
    sync_to_thread=True,
    responses=problems(401, 403, 404, 422, 503),
)
def list_debits(
    _controller: Controller,
    *,
    ledger: NamedDependency[CreditLedger],
    read_models: NamedDependency[ReadModels],
    wallet_id: PathId,
    after: ListCursor = None,
    limit: Limit = 100,
    order: Order = "asc",
    min_position: MinPosition = 0,
) -> DebitsOut:
    """A wallet's debits (``POST .../debits`` and billed usage events) in the order they
    were decided, or newest first with ``order=desc``; ``refunded`` is what refunds have
    given back of each so far. From the lists read model: pass ``min_position`` to
    include a debit just made."""
    ledger.load_wallet(wallet_id)  # 404 wallet_not_found, which the views cannot tell
    read_models.wait_for(min_position, [LISTS.name])
    page = debit_page(
        read_models.views, wallet_id, after=after, limit=limit, descending=order == "desc"
    )
    return render({"debits": page.items, "next_after": page.next_after}, DebitsOut)


class DebitReadController(Controller):
    """One debit with its refunds."""

    path = "/v1/wallets/{wallet_id:str}/debits/{debit_id:str}"
    tags = ["Debits"]
    guards = [READ]
    security = BEARER

    @get(
        "/",
        operation_id="getDebit",
        summary="Read a debit",
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422, 503),
    )
    def get_debit(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        wallet_id: PathId,
        debit_id: PathId,
        min_position: MinPosition = 0,
    ) -> DebitDetailOut:
        """A debit with its allocations and every refund of it (oldest first). 404
        ``debit_not_found`` for a debit the wallet does not have: from the lists read
        model, so pass ``min_position`` for a debit just made."""
        ledger.load_wallet(wallet_id)
        read_models.wait_for(min_position, [LISTS.name])
        found = find_debit(read_models.views, wallet_id, debit_id)
        if found is None:
            raise DebitNotFound(debit_id)
        return render(found, DebitDetailOut)


@get(
    "/",
    operation_id="listHolds",
    summary="List a wallet's holds",
    guards=[READ],
    sync_to_thread=True,
    responses=problems(401, 403, 404, 422, 503),
)
def list_holds(
    _controller: Controller,
    *,
    ledger: NamedDependency[CreditLedger],
    read_models: NamedDependency[ReadModels],
    wallet_id: PathId,
    status: Annotated[
        Literal["open", "captured", "released", "expired"] | None,
        QueryParameter(description="Only holds with this status (now)."),
    ] = None,
    after: ListCursor = None,
    limit: Limit = 100,
    order: Order = "asc",
    min_position: MinPosition = 0,
) -> HoldsOut:
    """A wallet's holds in the order they were placed (``order=desc``: newest first),
    each as ``GET .../holds/{hold_id}`` shows it. A hold past its ``expires_at`` is
    ``expired`` even before its expiry is recorded, as in the point read. From the
    lists read model: pass ``min_position`` to include a hold just placed or resolved."""
    ledger.load_wallet(wallet_id)
    read_models.wait_for(min_position, [LISTS.name])
    page = hold_page(
        read_models.views,
        wallet_id,
        status=status,
        now=ledger.now(),
        after=after,
        limit=limit,
        descending=order == "desc",
    )
    return render({"holds": page.items, "next_after": page.next_after}, HoldsOut)


LIST_ROUTES = [DebitReadController]
"""Controllers of their own; ``list_wallets``, ``list_debits`` and ``list_holds`` are
handlers of the controllers of their paths (litestar serves one controller per path)."""
