"""What the CLI calls: ``ledger project``, ``ledger projections rebuild|reconcile|status``.

Each function takes the store URL (``LEDGER_DATABASE_URL``), builds its own read-only use
of the ledger application and the matching view store, and closes both when done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ledger.app.alerting import Alerting
from ledger.app.bootstrap import store_env
from ledger.app.service import CreditLedger
from projections.alerts.delivery import AlertDelivery
from projections.alerts.http import Egress, sender
from projections.catalog import ALERTS, PROJECTIONS, select
from projections.engine.connect import open_views
from projections.engine.log import MAX_BATCH
from projections.engine.store import ViewStore
from projections.rebuild import RebuildReport
from projections.rebuild import rebuild as rebuild_views
from projections.reconcile import reconcile_views
from projections.runner import MAX_BACKOFF_S, POLL_INTERVAL_S, ProjectionRunner, backoff_delay
from projections.status import projection_status

__all__ = ["rebuild", "reconcile", "run_worker", "status"]

log = logging.getLogger(__name__)

# A projection process needs one events connection at a time, not an API-sized pool.
_WORKER_ENV = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}


@contextmanager
def _opened(database_url: str) -> Iterator[tuple[CreditLedger, ViewStore]]:
    app = CreditLedger({**store_env(database_url), **_WORKER_ENV})
    try:
        views = open_views(app.env)
        try:
            yield app, views
        finally:
            views.close()
    finally:
        app.close()


@contextmanager
def _delivering(
    app: CreditLedger, views: ViewStore, *, enabled: bool, egress: Egress
) -> Iterator[None]:
    """Send the alert outbox's deliveries from a thread beside the runner (a slow webhook
    never holds the projections back), for as long as the block runs."""
    if not enabled:
        yield
        return
    done = threading.Event()
    delivery = AlertDelivery(views, send=sender(egress), on_gone=Alerting(app).on_gone)
    thread = threading.Thread(
        target=delivery.run_forever,
        args=(done,),
        name="ledger-alert-delivery",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(30.0)  # at most a batch in flight, each send bounded by its timeout


def run_worker(
    database_url: str,
    stop: threading.Event,
    *,
    names: Iterable[str] | None = None,
    batch_size: int = MAX_BATCH,
    poll_interval: float = POLL_INTERVAL_S,
    max_backoff: float = MAX_BACKOFF_S,
    egress: Egress | None = None,
    step_interval: float = 0.0,
) -> None:
    """Keep every projection (or ``names``) up to date until ``stop`` is set; alerts go out
    through ``egress`` (``LEDGER_WEBHOOK_PROXY``, ``LEDGER_WEBHOOK_ALLOW_LINK_LOCAL``).

    Supervised end to end: a database that is down at start-up is retried like any later
    failure (logged, capped exponential backoff); only ``stop`` ends the loop.
    """
    projections = select(names)
    failures = 0
    while not stop.is_set():
        try:
            with _opened(database_url) as (app, views):
                runner = ProjectionRunner(
                    app,
                    views,
                    projections,
                    batch_size=batch_size,
                    poll_interval=poll_interval,
                    max_backoff=max_backoff,
                    step_interval=step_interval,
                )
                alerts = ALERTS in projections
                with _delivering(app, views, enabled=alerts, egress=egress or Egress()):
                    runner.run_forever(stop)  # returns only once stop is set
        except Exception:
            # run_forever handles its own errors: these come from opening or closing.
            failures += 1
            delay = backoff_delay(failures, poll_interval, max_backoff)
            log.exception("projection worker cannot start (%d); retry in %.2fs", failures, delay)
            stop.wait(delay)


def rebuild(
    database_url: str,
    name: str | Sequence[str],
    *,
    batch_size: int = MAX_BATCH,
    drop_grace: float = 2.0,
    restart: bool = False,
) -> RebuildReport:
    """Rebuild projection ``name`` (or several, or ``"all"``) beside the live generation and
    switch to it, with no downtime; several are built in one pass over the log."""
    names = list(PROJECTIONS) if name == "all" else name
    with _opened(database_url) as (app, views):
        return rebuild_views(
            app, views, names, batch_size=batch_size, drop_grace=drop_grace, restart=restart
        )


def reconcile(database_url: str) -> list[str]:
    """Differences between every view and a replay of the log; empty means clean."""
    with _opened(database_url) as (app, views):
        return reconcile_views(app, views)


def status(database_url: str) -> list[dict[str, Any]]:
    """Position, head, lag and status of every projection."""
    with _opened(database_url) as (app, views):
        return projection_status(app, views)
