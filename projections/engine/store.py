"""View stores: where read models live, and the transactions that write and read them.

* PostgreSQL (:mod:`projections.engine.pgstore`): the same database and schema as the events.
* SQLite file: a separate file beside the event store file (``<events>.views.sqlite3``,
  WAL mode), so a long view rebuild never blocks writers of the event store.
* In-memory ledgers: SQLite ``:memory:`` (one connection, shared under a lock).

Every store offers :meth:`ViewStore.write` (one transaction, committed on success, rolled
back on any error: a projection batch and its tracking position go in one of these) and
:meth:`ViewStore.read` (one consistent snapshot, so a query reading several tables, or the
live generation and then its tables, never sees half of a batch).
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, Protocol

from projections.engine.dialect import SQLITE, Dialect

__all__ = [
    "SQLiteViews",
    "SleepWaker",
    "Tx",
    "ViewStore",
    "Waker",
]

_SQLITE_TIMEOUT_S = 10.0
# An IN list holds at most this many values (SQLite's older builds allow 999 parameters).
_IN_CHUNK = 500
_IDLE_SQLITE_CONNECTIONS = 4


class Tx:
    """One open transaction on a view store: run statements, fetch rows as tuples."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        self._cursor.execute(sql, tuple(params))
        return int(self._cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if batch:
            self._cursor.executemany(sql, batch)

    def insert_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql``, one ``INSERT ... VALUES (?, ...)`` (``ON CONFLICT ...`` allowed), for
        every row. PostgreSQL's store runs it as one statement over arrays
        (:class:`projections.engine.pgstore.PostgresTx`); here it is row by row.

        The rows must not conflict with one another (one statement cannot update a row
        twice), so callers sum per key first, as every caller does.
        """
        self.executemany(sql, rows)

    def all_in(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of ``sql``, which ends in ``IN``, for the text ``values``: one statement
        per few hundred values (PostgreSQL's store: one for all) where one lookup per value
        was made before."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), _IN_CHUNK):
            chunk = list(values[start : start + _IN_CHUNK])
            found += self.all(f"{sql} ({', '.join('?' * len(chunk))})", chunk)
        return found

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._cursor.execute(sql, tuple(params))
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append many rows to ``table`` (a quoted name): COPY on PostgreSQL, else INSERTs.

        COPY is several times faster than row-by-row inserts for the journal, which is most
        of the write volume of a rebuild.
        """
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect.is_postgres:
            with self._cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - constant identifiers; values are parameters
        self._cursor.executemany(sql, rows)


class Waker(Protocol):
    """Lets an idle runner sleep until new events may exist (or ``timeout`` passes)."""

    def wait(self, timeout: float, stop: threading.Event) -> None: ...

    def close(self) -> None: ...


class SleepWaker:
    """Plain polling: wake after ``timeout`` (or at once when ``stop`` is set)."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def close(self) -> None:
        return None


class ViewStore(ABC):
    """A SQL database holding the views, with write and read transactions."""

    dialect: Dialect

    @abstractmethod
    def write(self) -> AbstractContextManager[Tx]:
        """One read-write transaction: committed if the block succeeds, else rolled back."""

    @abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """One read-only transaction on a consistent snapshot."""

    @abstractmethod
    def is_missing_table(self, error: BaseException) -> bool:
        """Did ``error`` come from a table that no longer exists (a dropped generation)?"""

    def waker(self, channel: str | Sequence[str] | None) -> Waker:
        """How a runner waits for new events on ``channel`` (one per shard of the ledger);
        stores without notifications poll."""
        del channel
        return SleepWaker()

    @abstractmethod
    def close(self) -> None:
        """Close every connection the store holds."""

    def __enter__(self) -> ViewStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SQLiteViews(ViewStore):
    """Views in an SQLite file (WAL, a small connection pool) or in ``:memory:``.

    ``:memory:`` has exactly one connection, so every transaction, read or write, holds a
    lock for its whole duration; a file store lets readers run beside the one writer.
    """

    def __init__(self, path: str | None) -> None:
        self.dialect = SQLITE
        self.path = path
        self._lock = threading.Lock()  # guards the idle connections
        # Held for a whole transaction on the one in-memory connection. Re-entrant so that
        # a transaction opened inside another fails at BEGIN instead of deadlocking.
        self._memory_lock = threading.RLock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._memory = self._connect() if path is None else None

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the module issues no implicit BEGIN; we say BEGIN ourselves.
        conn = sqlite3.connect(
            self.path or ":memory:",
            timeout=_SQLITE_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; an OS crash may
            # lose the last batches, and views and tracking are then lost together.
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            with self._memory_lock:
                yield self._memory
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("view store is closed")
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < _IDLE_SQLITE_CONNECTIONS
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Tx]:
        with self._connection() as conn:
            cursor = conn.cursor()
            cursor.execute(begin)
            try:
                yield Tx(cursor, self.dialect)
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cursor.close()

    def write(self) -> AbstractContextManager[Tx]:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of one
        # failing at its first write with "database is locked".
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> AbstractContextManager[Tx]:
        # A deferred transaction pins one WAL snapshot at its first read.
        return self._transaction("BEGIN")

    def is_missing_table(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._memory is not None:
            with self._memory_lock:
                self._memory.close()
