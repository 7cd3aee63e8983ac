"""Is there a ledger store at this URL? Asked by every ``ledger`` command except ``serve``.

Opening a ledger creates its store when it is missing (an SQLite file, the tables of a
PostgreSQL schema). For the server that is the point; for ``ledger keys create`` run from
another directory it silently made a second, empty store beside the real one and printed a key
the server then refused. So the other commands first ask :func:`missing_store` and refuse.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from ledger.app.bootstrap import store_env
from ledger.app.service import CreditLedger

__all__ = ["EVENTS_TABLE", "missing_store"]

EVENTS_TABLE = f"{CreditLedger.name.lower()}_events"
"""The home shard's events table, created with the store (eventsourcing names it after the
application: ``ledger_events``)."""


def missing_store(database_url: str) -> str | None:
    """Why there is no store at ``database_url``, or None if there is one (or it cannot be told).

    * ``sqlite:///path``: the file must exist (a relative path is taken from the working
      directory, which the answer names).
    * ``postgresql://``: the schema must hold the events table. A database that does not
      answer is not called missing: the command's own connection will report (or, for
      ``ledger project``, retry) it.
    * ``memory://``: every process starts its own, so there is nothing to find.

    Raises:
        ValueError: ``database_url`` is not a store URL.
    """
    env = store_env(database_url)
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        path = Path(env["SQLITE_DBNAME"])
        if path.is_file():
            return None
        return f"the file {path.absolute()} does not exist"
    if module == "eventsourcing.postgres":
        return _missing_tables(env)
    return None


def _missing_tables(env: dict[str, str]) -> str | None:
    schema = env.get("POSTGRES_SCHEMA") or "public"
    table = sql.Identifier(schema, EVENTS_TABLE)
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=max(1, int(env["POSTGRES_CONNECT_TIMEOUT"])),
            application_name="ledger-store-check",
            autocommit=True,
        ) as conn:
            query = sql.SQL("SELECT to_regclass({})").format(sql.Literal(table.as_string(conn)))
            row = conn.execute(query).fetchone()
    except psycopg.OperationalError:
        return None  # not reachable now: not the same as not there
    if row is not None and row[0] is not None:
        return None
    return f"schema {schema!r} of database {env['POSTGRES_DBNAME']!r} has no ledger tables"
