"""Who is calling: a bearer key becomes a :class:`Principal`, and guards check its scopes.

Scopes: ``admin`` (everything), ``service`` (debits, refunds, holds, reads), ``auditor``
(reads), ``customer:<customer_id>`` (reads of its own wallets, and its wallets' budgets).
Price books are shared by every wallet: only ``admin`` changes them, ``service`` and
``auditor`` read them, customer keys do not.
A customer key asking for another customer's wallet gets ``wallet_not_found``, exactly as
for a wallet that does not exist, so keys cannot probe for other customers' wallet ids.

Checks that touch the store (looking a key up, finding a wallet's owner) run in a worker
thread: the ledger is synchronous and must not block the event loop. The spending routes
skip the key's store read when this process verified the key before: the ledger confirms
it at commit instead (see :mod:`api.middleware.key_cache`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from pydantic import SecretStr

from api.dependencies import provide_ledger, settings_of
from api.errors import Forbidden, Unauthenticated
from api.middleware.key_cache import (
    CHECKED_AT_COMMIT,
    KeyCache,
    KeyFence,
    VerifiedKey,
    key_cache_of,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import WalletNotFound

__all__ = [
    "ACCESS",
    "ADMIN",
    "AUDIT",
    "BOOTSTRAP_KEY_ID",
    "MANAGE_BUDGETS",
    "PUBLIC",
    "READ",
    "READ_PRICE_BOOKS",
    "SPEND",
    "Access",
    "BearerAuthMiddleware",
    "Principal",
    "allow",
    "auth_middleware",
    "authenticate",
    "metrics_access",
]

BOOTSTRAP_KEY_ID = "bootstrap"
ACCESS = "access"
"""Route ``opt`` key naming the route's :class:`Access`, checked right after authentication."""
PUBLIC = "public"
"""Route ``opt`` flag: ``opt={PUBLIC: True}`` serves the route without a key (health checks)."""


@dataclass(frozen=True)
class Principal:
    """The caller, as its key describes it."""

    key_id: str
    scopes: frozenset[str]
    fence: KeyFence | None = None
    """For a stored key: what the ledger confirms before deciding a spending command."""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def customer_ids(self) -> frozenset[str]:
        """The customers whose wallets this key may read (``customer:<id>`` scopes)."""
        return frozenset(
            s.removeprefix("customer:") for s in self.scopes if s.startswith("customer:")
        )


def _same_secret(presented: str, expected: str) -> bool:
    # Comparing digests keeps the comparison constant-time in the length of the secret too.
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), _digest(expected))


@functools.lru_cache(maxsize=4)
def _digest(expected: str) -> bytes:
    """The bootstrap key's digest, taken once rather than on every request."""
    return hashlib.sha256(expected.encode()).digest()


def _presented(authorization: str | None) -> str:
    scheme, _, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return presented


def _bootstrap(presented: str, bootstrap_key: SecretStr | None) -> Principal | None:
    if bootstrap_key is not None and _same_secret(presented, bootstrap_key.get_secret_value()):
        return Principal(BOOTSTRAP_KEY_ID, frozenset({"admin"}))
    return None


def _principal(key: VerifiedKey | None) -> Principal:
    if key is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return Principal(key.key_id, key.scopes, key.fence)


def authenticate(
    ledger: CreditLedger, bootstrap_key: SecretStr | None, authorization: str | None, keys: KeyCache
) -> Principal:
    """The principal an ``Authorization`` header stands for, checked against the store.

    Raises:
        Unauthenticated: No bearer key, or one that is unknown, malformed or revoked.
    """
    presented = _presented(authorization)
    return _bootstrap(presented, bootstrap_key) or _principal(keys.verify(ledger, presented))


def _without_io(
    connection: ASGIConnection[Any, Any, Any, Any],
    presented: str,
    bootstrap_key: SecretStr | None,
    keys: KeyCache,
) -> Principal | None:
    """The principal when no store read is needed: the bootstrap key, or (on a route whose
    ledger confirms the key at commit) a key this process verified before."""
    principal = _bootstrap(presented, bootstrap_key)
    if principal is None and connection.route_handler.opt.get(CHECKED_AT_COMMIT):
        cached = keys.cached(presented)
        principal = None if cached is None else _principal(cached)
    return principal


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts the caller's :class:`Principal` in ``request.user`` (and its key id in ``auth``)."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        state = connection.app.state
        keys = key_cache_of(state)
        presented = _presented(connection.headers.get("authorization"))
        principal = _without_io(connection, presented, settings_of(state).bootstrap_admin_key, keys)
        if principal is None:
            ledger = provide_ledger(state)
            principal = _principal(await anyio.to_thread.run_sync(keys.verify, ledger, presented))
        access = connection.route_handler.opt.get(ACCESS)
        if isinstance(access, Access):
            await access.check(connection, principal)
        return AuthenticationResult(user=principal, auth=principal.key_id)


def auth_middleware() -> DefineMiddleware:
    """Authentication for every route except the OpenAPI document and ``PUBLIC`` routes."""
    return DefineMiddleware(
        BearerAuthMiddleware, exclude=["^/schema(/|$)"], exclude_from_auth_key=PUBLIC
    )


def _check_owner(ledger: CreditLedger, principal: Principal, wallet_id: str) -> None:
    if ledger.load_wallet(wallet_id).customer_id not in principal.customer_ids:
        raise WalletNotFound(wallet_id)


class Access:
    """Who may use a route: ``admin`` and any of ``scopes``; with ``customer``, also a
    ``customer:<id>`` key, but only for a wallet (the ``wallet_id`` path parameter) of one of
    its customers.

    It is a litestar guard (``guards=[READ]``), and the spending routes instead name it in
    their ``opt`` under ``ACCESS``, where :class:`BearerAuthMiddleware` checks it: litestar
    copies the route handler for every guard call, 6 % of a debit's server CPU.
    """

    def __init__(self, scopes: frozenset[str], customer: bool) -> None:
        self.scopes = scopes
        self.customer = customer

    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        scope = cast("dict[str, Any]", connection.scope)
        principal = scope.get("user")
        if not isinstance(principal, Principal):
            if scope.get("method") == "OPTIONS":
                # The authentication middleware lets OPTIONS through without a key (CORS
                # preflight); litestar's automatic answer lists the methods and runs nothing.
                return
            raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
        await self.check(connection, principal)

    async def check(
        self, connection: ASGIConnection[Any, Any, Any, Any], principal: Principal
    ) -> None:
        """Raises ``Forbidden`` (or ``wallet_not_found`` for another customer's wallet)."""
        if principal.is_admin or principal.scopes & self.scopes:
            return
        wallet_id = connection.path_params.get("wallet_id")
        if self.customer and principal.customer_ids and isinstance(wallet_id, str):
            ledger = provide_ledger(connection.app.state)
            await anyio.to_thread.run_sync(_check_owner, ledger, principal, wallet_id)
            return
        raise Forbidden("this API key may not do this")


def allow(*scopes: str, customer: bool = False) -> Access:
    """A guard that lets ``admin`` and any of ``scopes`` through (see :class:`Access`)."""
    return Access(frozenset(scopes), customer)


ADMIN = allow()
"""Opening wallets, granting and voiding credits, managing API keys and price books."""
SPEND = allow("service")
"""Debits, refunds and holds."""
READ = allow("service", "auditor", customer=True)
"""Reading wallets, their events, holds, budgets and usage."""
AUDIT = allow("auditor")
"""The journal and the trial balance: every wallet at once, so no customer or service key."""
READ_PRICE_BOOKS = allow("service", "auditor")
"""Reading price books: shared by all wallets, so no customer key."""
MANAGE_BUDGETS = allow(customer=True)
"""Setting and removing budgets."""


async def metrics_access(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """The guard of ``/metrics`` (a ``PUBLIC`` route, so no key was checked yet).

    With ``LEDGER_METRICS_PUBLIC=true`` (the default) anyone may read it, as Prometheus
    scrapers usually send no key; otherwise it takes an admin or auditor key.
    """
    state = connection.app.state
    settings = settings_of(state)
    if settings.metrics_public:
        return
    principal = await anyio.to_thread.run_sync(
        authenticate,
        provide_ledger(state),
        settings.bootstrap_admin_key,
        connection.headers.get("authorization"),
        key_cache_of(state),
    )
    if not (principal.is_admin or "auditor" in principal.scopes):
        raise Forbidden("this API key may not read metrics")
