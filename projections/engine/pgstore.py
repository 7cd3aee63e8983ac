"""PostgreSQL view store (psycopg 3): views in the events' own database and schema.

Connections come from a small ``psycopg_pool`` pool that pings each connection before
lending it, so a connection killed by the server (restart, ``pg_terminate_backend``) is
replaced instead of failing the next batch twice. The pool opens lazily: a worker started
while the database is down gets errors it can retry, not a crash at construction.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.engine.dialect import Dialect, postgres
from projections.engine.store import SleepWaker, Tx, ViewStore, Waker

__all__ = ["ListenWaker", "PostgresTx", "PostgresViews", "over_arrays"]

log = logging.getLogger(__name__)

# A view batch committed without waiting for its WAL flush can be lost in a server crash,
# but then its tracking position is lost with it and the batch is simply read again: the
# exactly-once property survives and every batch commits faster.
_WRITE_SETUP = "SET LOCAL synchronous_commit = off"
_READ_SETUP = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_RELISTEN_AFTER_S = 1.0
_INSERT = re.compile(
    r"INSERT INTO (?P<table>\S+)(?P<alias> AS \w+)? \((?P<columns>[^)]*)\)"
    r" VALUES \((?P<values>[^)]*)\)(?P<rest>.*)",
    re.DOTALL,
)
_COLUMN_TYPES = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
)


def over_arrays(sql: str, types: Mapping[str, str]) -> str:
    """``INSERT INTO t (a, b, c) VALUES (%s, 0, %s) [rest]`` as one statement over arrays:
    ``INSERT INTO t (a, b, c) SELECT u.c1, 0, u.c2 FROM unnest(%b::<a's type>[],
    %b::<c's type>[]) AS u(c1, c2) [rest]``, ``types`` naming each column's type.

    Its text is the same whatever the number of rows, so psycopg parses it once (a
    multi-row VALUES list is parsed again for every batch: that cost more than it saved)
    and the server can prepare it. The arrays go in binary (``%b``): psycopg's text form
    escapes every element in Python (measured: a fifth more of the worker's CPU).

    Raises:
        ValueError: ``sql`` is not an ``INSERT ... VALUES (...)`` of this shape.
    """
    found = _parsed(sql)
    columns = found["columns"].split(", ")
    values = found["values"].split(", ")
    if len(columns) != len(values):
        raise ValueError(f"one row of values for every column is needed: {sql!r}")
    picked: list[str] = []
    arrays: list[str] = []
    names: list[str] = []
    for column, value in zip(columns, values, strict=True):
        if value != "%s":
            picked.append(value)
            continue
        name = f"c{len(names) + 1}"
        picked.append(f"u.{name}")
        arrays.append(f"%b::{types[column]}[]")
        names.append(name)
    return (
        f"INSERT INTO {found['table']}{found['alias'] or ''} ({found['columns']})"  # noqa: S608 - the caller's constant identifiers; values are parameters
        f" SELECT {', '.join(picked)} FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})"
        f"{found['rest']}"
    )


def _parsed(sql: str) -> re.Match[str]:
    found = _INSERT.fullmatch(sql)
    if found is None:
        raise ValueError(f"one row of values for every column is needed: {sql!r}")
    return found


class PostgresTx(Tx):
    """A transaction on the PostgreSQL view store: many rows go in as arrays."""

    def __init__(self, cursor: Any, dialect: Dialect, statements: dict[str, str]) -> None:
        super().__init__(cursor, dialect)
        self._statements = statements  # the store's: INSERT text -> its array form

    def insert_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """One statement for all ``rows`` (see :func:`over_arrays`), where one per row had
        been most of the projection worker's statements. Rows must not conflict with one
        another (one statement cannot update a row twice)."""
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        statement = self._statements.get(sql)
        if statement is None:
            statement = over_arrays(sql, self._types_of(sql))
            self._statements[sql] = statement
        self._cursor.execute(statement, [list(column) for column in zip(*batch, strict=True)])

    def _types_of(self, sql: str) -> dict[str, str]:
        return dict(self.all(_COLUMN_TYPES, (_parsed(sql)["table"],)))

    def all_in(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (ending in ``IN``) for ``values``, in one statement."""
        if not values:
            return []
        return self.all(f"{sql} (SELECT unnest(%s::text[]))", (list(values),))


class PostgresViews(ViewStore):
    """Views in PostgreSQL; tables are qualified with ``schema``."""

    def __init__(
        self,
        connect: Mapping[str, Any],
        *,
        schema: str = "public",
        pool_size: int = 4,
        timeout: float = 5.0,
    ) -> None:
        self.dialect = postgres(schema)
        # autocommit: psycopg's transaction() blocks then issue the real BEGIN/COMMIT.
        self._connect = {**connect, "autocommit": True}
        self.pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            kwargs=self._connect,
            min_size=1,
            max_size=pool_size,
            open=False,
            check=ConnectionPool.check_connection,
            timeout=timeout,
            name=str(connect.get("application_name", "views")),
        )
        self.pool.open(wait=False)
        self._statements: dict[str, str] = {}

    @classmethod
    def from_env(cls, env: Any, *, application_name: str, pool_size: int = 4) -> PostgresViews:
        """Connection settings from an eventsourcing environment (``POSTGRES_*`` keys)."""
        get = env.get
        if not get("POSTGRES_DBNAME") or not get("POSTGRES_HOST"):
            raise ValueError("PostgreSQL views need POSTGRES_DBNAME and POSTGRES_HOST")
        timeout = float(get("POSTGRES_CONNECT_TIMEOUT") or 5)
        connect = {
            "dbname": get("POSTGRES_DBNAME"),
            "host": get("POSTGRES_HOST"),
            "port": int(get("POSTGRES_PORT") or 5432),
            "user": get("POSTGRES_USER") or "postgres",
            "password": get("POSTGRES_PASSWORD") or "",
            "application_name": application_name,
            "connect_timeout": max(1, int(timeout)),
        }
        schema = get("POSTGRES_SCHEMA") or "public"
        return cls(connect, schema=schema, pool_size=pool_size, timeout=timeout)

    @contextmanager
    def _transaction(self, setup: str) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute(setup)
            yield PostgresTx(cursor, self.dialect, self._statements)

    def write(self) -> AbstractContextManager[Tx]:
        return self._transaction(_WRITE_SETUP)

    def read(self) -> AbstractContextManager[Tx]:
        return self._transaction(_READ_SETUP)

    def is_missing_table(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.errors.UndefinedTable)

    def waker(self, channel: str | Sequence[str] | None) -> Waker:
        channels = [channel] if isinstance(channel, str) else list(channel or ())
        if not channels:
            return SleepWaker()
        return ListenWaker(self._connect, channels)

    def close(self) -> None:
        self.pool.close()


class ListenWaker:
    """Wakes an idle runner on the events tables' NOTIFY, with polling as the fallback.

    The recorder sends ``NOTIFY <events table>`` in every insert transaction; one connection
    listens on the channel of every shard (``channels``), and a notification on any of
    them wakes the runner, which then reads a batch from every shard. A lost LISTEN
    connection is logged and replaced; until then the runner simply polls, so a missed
    notification delays work by at most one poll interval.
    """

    def __init__(self, connect: Mapping[str, Any], channels: str | Sequence[str]) -> None:
        self._connect = dict(connect)
        self._channels = [channels] if isinstance(channels, str) else list(channels)
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._failed_at = 0.0

    def _listening(self) -> psycopg.Connection[tuple[Any, ...]] | None:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if time.monotonic() - self._failed_at < _RELISTEN_AFTER_S:
            return None
        conn = psycopg.connect(**self._connect)
        try:
            for channel in self._channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def wait(self, timeout: float, stop: threading.Event) -> None:
        if stop.is_set():
            return
        try:
            conn = self._listening()
            if conn is None:
                stop.wait(timeout)
                return
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            log.warning("LISTEN connection failed; polling until it is back", exc_info=True)
            self._failed_at = time.monotonic()
            self.close()
            stop.wait(timeout)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
