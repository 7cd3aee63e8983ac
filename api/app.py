"""The litestar application: routes, authentication, errors, OpenAPI and the ledger's lifespan.

To add routes, append a module's ``*_ROUTES`` list to :data:`ROUTE_HANDLERS`; to add a
middleware, add it to the list :func:`middleware` returns (the first one is the outermost).
Routes must not set their own ``before_request``: litestar keeps only the innermost hook, which
would switch off the strict body checks of :func:`api.validation.check_request`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.types import ControllerRouterHandler

from api.dependencies import (
    LEDGER_KEY,
    READ_MODELS_KEY,
    SETTINGS_KEY,
    provide_ledger,
    provide_read_models,
)
from api.errors import problem_response
from api.fleet import fleet_membership
from api.forwarding import forwarding_middleware
from api.middleware.auth import auth_middleware
from api.middleware.key_cache import KEY_CACHE_KEY, KeyCache
from api.middleware.metrics import METRICS_KEY, Metrics, MetricsMiddleware
from api.middleware.rate_limit import RATE_LIMITER_KEY, rate_limit_middleware, rate_limiter
from api.openapi import openapi_config
from api.openapi_ui import assets_router
from api.read_models import ReadModels
from api.readiness import READINESS_KEY, Readiness
from api.routes.admin import ADMIN_ROUTES
from api.routes.alert_settings import ALERT_SETTINGS_ROUTES
from api.routes.allowances import ALLOWANCE_ROUTES
from api.routes.api_keys import API_KEY_ROUTES
from api.routes.audit import AUDIT_ROUTES
from api.routes.batch import BATCH_ROUTES
from api.routes.budgets import BUDGET_ROUTES
from api.routes.console import CONSOLE_ROUTES
from api.routes.debits import DEBIT_ROUTES
from api.routes.grants import GRANT_ROUTES
from api.routes.holds import HOLD_ROUTES
from api.routes.item_lists import ITEM_LIST_ROUTES
from api.routes.lists import LIST_ROUTES
from api.routes.meters import METER_ROUTES
from api.routes.operations import OPERATIONS_ROUTES
from api.routes.price_books import PRICE_BOOK_ROUTES
from api.routes.usage_events import USAGE_EVENT_ROUTES
from api.routes.wallets import WALLET_ROUTES
from api.routes.webhooks import WEBHOOK_ROUTES
from api.settings import Settings
from api.validation import check_request
from ledger.app.bootstrap import store_env
from ledger.app.service import CreditLedger

__all__ = ["ROUTE_HANDLERS", "create_app", "middleware", "open_ledger"]

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    *OPERATIONS_ROUTES,
    *WALLET_ROUTES,
    *GRANT_ROUTES,
    *DEBIT_ROUTES,
    *HOLD_ROUTES,
    *BUDGET_ROUTES,
    *PRICE_BOOK_ROUTES,
    *METER_ROUTES,
    *API_KEY_ROUTES,
    *AUDIT_ROUTES,
    *ADMIN_ROUTES,
    *USAGE_EVENT_ROUTES,
    *BATCH_ROUTES,
    *WEBHOOK_ROUTES,
    *ALERT_SETTINGS_ROUTES,
    *ALLOWANCE_ROUTES,
    *LIST_ROUTES,
    *ITEM_LIST_ROUTES,
    *CONSOLE_ROUTES,
]
"""Every route of the API, one ``*_ROUTES`` list per module of ``api.routes``."""


def middleware() -> list[DefineMiddleware]:
    """The middleware stack, outermost first (litestar runs it for matched routes only).

    Metrics come first, so they time and count everything, authentication failures included.
    The rate limit follows authentication: it counts per key id.
    """
    return [
        DefineMiddleware(MetricsMiddleware),
        forwarding_middleware(),  # fleet hook (decision 0016): before auth, the owner checks
        auth_middleware(),
        rate_limit_middleware(),
    ]


def open_ledger(
    database_url: str, shards: int | None = None, shard_urls: str | None = None
) -> CreditLedger:
    """A ledger on ``database_url``; an SQLite file's directory is created if missing.

    ``shard_urls`` (fleet hook, decision 0017) is the layout for this ledger, overriding
    ``LEDGER_SHARD_URLS`` of the environment ("" for none): ``ledger reshard`` opens two
    stores with different layouts."""
    env = store_env(database_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        Path(env["SQLITE_DBNAME"]).parent.mkdir(parents=True, exist_ok=True)
    if shards is not None:
        # The prefixed name: eventsourcing reads LEDGER_SHARDS (an exported one too) first.
        env["LEDGER_SHARDS"] = str(shards)
    if shard_urls is not None:
        env["LEDGER_SHARD_URLS"] = shard_urls
    ledger: CreditLedger = CreditLedger(env)
    return ledger


@contextmanager
def _long_lived_objects_out_of_sight() -> Iterator[None]:
    """While the app runs: everything built at start-up frozen, full collections rarer.

    The app, the ledger and the imported modules (~100,000 objects) live as long as the
    process, yet every full collection walked them all again: about 50 ms, every 10-20
    ingest batches (measured). Frozen, a collection only looks at objects made since.

    The wallets cached later are long-lived too (a full collection over 10,000 cached
    wallets takes ~100 ms), and each full collection stalls every request in flight. Full
    collections are made ten times rarer (after 100 middle-generation collections instead
    of 10): hold/capture p99 after a 10,000-wallet run went from 63-67 to 34-39 ms
    (docs/performance.md, run 10). Both are undone when the app stops (an app stopped in a
    longer process, such as a test run).
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(thresholds[0], thresholds[1], 100)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _chain(
    first: Callable[[str], None] | None, then: Callable[[str], None]
) -> Callable[[str], None]:
    if first is None:
        return then

    def both(command: str) -> None:
        first(command)
        then(command)

    return both


@asynccontextmanager
async def _read_models(
    app: Litestar, ledger: CreditLedger, settings: Settings, metrics: Metrics
) -> AsyncIterator[None]:
    """The ledger's read models, with their in-process worker if this process projects."""
    read_models = await anyio.to_thread.run_sync(ReadModels.open, ledger, settings)
    try:
        read_models.start()
        app.state[READ_MODELS_KEY] = read_models
        metrics.projections.source = read_models.status
        yield
    finally:
        metrics.projections.source = None
        # Joins the worker and any rebuild thread: blocking, so off the event loop.
        await anyio.to_thread.run_sync(read_models.close)


def _ledger_lifespan(
    settings: Settings, given: CreditLedger | None, metrics: Metrics
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Opening a store may block (connecting, creating tables): keep it off the event loop.
        ledger = given
        if ledger is None:
            ledger = await anyio.to_thread.run_sync(
                open_ledger, settings.database_url, settings.shards
            )
        # Contention retries are counted through the ledger's hook (after any hook it had).
        previous_hook = ledger.on_conflict
        ledger.on_conflict = _chain(previous_hook, metrics.on_conflict)
        app.state[LEDGER_KEY] = ledger
        try:
            # Fleet hook (decision 0016): owner channel and shard leases with
            # LEDGER_INTERNAL_URL set.
            async with (
                fleet_membership(app, ledger, settings),
                _read_models(app, ledger, settings, metrics),
            ):
                with _long_lived_objects_out_of_sight():
                    yield
        finally:
            # A ledger handed in belongs to the caller (tests keep using it); ours we close.
            ledger.on_conflict = previous_hook
            if given is None:
                ledger.close()

    return lifespan


def create_app(settings: Settings | None = None, *, ledger: CreditLedger | None = None) -> Litestar:
    """Build the API.

    Args:
        settings: Server settings; read from ``LEDGER_*`` environment variables if omitted.
        ledger: A ledger to serve instead of opening ``settings.database_url`` (tests pass
            one on ``memory://`` with a fake clock). It is not closed when the app stops.

    Returns:
        The litestar app; the ledger and its read models (with the in-process projection
        worker, see :mod:`api.read_models`) are opened and closed by its lifespan.
    """
    settings = settings or Settings()
    metrics = Metrics()
    dependencies: dict[str, Any] = {
        "ledger": Provide(provide_ledger, sync_to_thread=False),
        "read_models": Provide(provide_read_models, sync_to_thread=False),
    }
    return Litestar(
        route_handlers=[*ROUTE_HANDLERS, assets_router()],  # + the API docs' scripts
        middleware=middleware(),
        dependencies=dependencies,
        exception_handlers={Exception: problem_response},
        before_request=check_request,  # strict bodies and Idempotency-Key, before parsing
        lifespan=[_ledger_lifespan(settings, ledger, metrics)],
        openapi_config=openapi_config(),
        # Logging is the CLI's (api.logs); litestar's default would replace the root handlers.
        logging_config=None,
        request_max_body_size=settings.max_body_bytes,
        state=State(
            {
                SETTINGS_KEY: settings,
                METRICS_KEY: metrics,
                KEY_CACHE_KEY: KeyCache(),
                RATE_LIMITER_KEY: rate_limiter(settings),
                READINESS_KEY: Readiness(),
            }
        ),
    )
