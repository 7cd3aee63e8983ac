"""Open the view store that belongs to a ledger's event store."""

from __future__ import annotations

from typing import Any

from projections.engine.pgstore import PostgresViews
from projections.engine.store import SQLiteViews, ViewStore

__all__ = ["VIEWS_SUFFIX", "open_views", "views_path"]

VIEWS_SUFFIX = ".views.sqlite3"
APPLICATION_NAME = "ledger-projections"


def views_path(events_path: str) -> str | None:
    """The views file beside an SQLite events file, or None for an in-memory database."""
    if events_path in {"", ":memory:"} or "mode=memory" in events_path:
        return None
    return events_path + VIEWS_SUFFIX


def open_views(
    env: Any, *, application_name: str = APPLICATION_NAME, pool_size: int = 4
) -> ViewStore:
    """The view store for a ledger, from its eventsourcing environment.

    Pass ``app.env`` of a ledger application (or ``ledger.store.env.store_env(url)``):
    PostgreSQL views go to the events' database and schema, SQLite views to a file beside
    the events file, and an in-memory ledger gets an SQLite ``:memory:`` store. Keep the
    in-memory store object: a second call makes a second, empty store. ``pool_size`` bounds
    the PostgreSQL connections (size it to the threads that query at once; a runner needs
    one).
    """
    get = env.get
    module = get("PERSISTENCE_MODULE") or "eventsourcing.popo"
    if module == "eventsourcing.postgres":
        return PostgresViews.from_env(env, application_name=application_name, pool_size=pool_size)
    if module == "eventsourcing.sqlite":
        return SQLiteViews(views_path(get("SQLITE_DBNAME") or ""))
    if module == "eventsourcing.popo":
        return SQLiteViews(None)
    raise ValueError(f"no view store for persistence module {module!r}")
