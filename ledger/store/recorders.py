"""Application recorders that also keep the ``(wallet_id, event_id)`` rows of usage ingest.

Exactly-once ingest needs "this usage event was recorded" to be true exactly when the batch
that recorded it committed. So the ids are written by eventsourcing's own extension hook,
``_insert_events(..., **kwargs)``, inside the transaction that inserts the stored events
(``Application.save(..., usage_ids=[(wallet_id, event_id), ...])`` passes them down): a
failed write marks nothing as seen, and a concurrent batch that took an id first makes the
whole transaction fail with eventsourcing's ``IntegrityError`` (a plain INSERT on the primary
key, no ON CONFLICT), after which the ledger re-checks and re-decides the batch.

The table is named after the events table (``ledger_events`` -> ``ledger_usage_ids``;
SQLite's ``stored_events`` -> ``stored_usage_ids``) and lives in the same schema. Ids are
inserted sorted, so two batches sharing ids lock them in the same order and never deadlock.

:func:`usage_recorder_for` picks the recorder for the application's persistence module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry

from ledger.store.guards import GUARD_FAILED_SQLSTATE, Guard, GuardFailed

__all__ = [
    "UsageIdRecorder",
    "UsagePOPORecorder",
    "UsagePostgresRecorder",
    "UsageSQLiteRecorder",
    "usage_ids_table_name",
    "usage_recorder_for",
]

UsageId = tuple[str, str]
"""``(wallet_id, event_id)``."""

APPLICATION_RECORDER_TOPIC = InfrastructureFactory.APPLICATION_RECORDER_TOPIC
_SQLITE_CHUNK = 400  # pairs per query: two parameters each, under SQLite's 999 default


def usage_ids_table_name(events_table_name: str) -> str:
    """``ledger_events`` -> ``ledger_usage_ids``; ``stored_events`` -> ``stored_usage_ids``."""
    return events_table_name.removesuffix("_events") + "_usage_ids"


class UsageIdRecorder:
    """What usage ingest needs from the store beside eventsourcing's recorder interface."""

    def existing_usage_ids(self, ids: Sequence[UsageId]) -> set[UsageId]:
        """Which of ``ids`` are already recorded (one query)."""
        raise NotImplementedError

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates exist, i.e. have a first event (one query)."""
        raise NotImplementedError


def _usage_ids(kwargs: dict[str, Any]) -> list[UsageId]:
    return sorted(kwargs.get("usage_ids") or ())


def _quoted(identifier: str) -> str:
    """A Postgres identifier, quoted (the schema and table names come from settings)."""
    return '"' + identifier.replace('"', '""') + '"'


class UsagePostgresRecorder(PostgresApplicationRecorder, UsageIdRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            # That insert path calls a database function and skips the hook that writes the
            # usage ids: ingest would silently stop being exactly-once.
            raise ValueError("usage ingest needs POSTGRES_ENABLE_DB_FUNCTIONS off")
        self.usage_ids_table_name = usage_ids_table_name(events_table_name)
        self.check_identifier_length(self.usage_ids_table_name)
        schema = _quoted(self.datastore.schema)
        table = f"{schema}.{_quoted(self.usage_ids_table_name)}"
        events = f"{schema}.{_quoted(self.events_table_name)}"
        self._events_table = events
        self.sql_create_usage_ids = (
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "wallet_id text NOT NULL, event_id text NOT NULL, "
            "recorded_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (wallet_id, event_id))"
        )
        # Lists travel as one comma-joined text each (ids never contain a comma, see
        # ledger.domain.validation): psycopg's array adaptation escapes element by element with
        # regular expressions, which cost more than the rest of a 1,000-event batch.
        self.sql_insert_usage_ids = (
            f"INSERT INTO {table} (wallet_id, event_id) "  # noqa: S608 - quoted identifiers
            "SELECT * FROM unnest(string_to_array(%s, ','), string_to_array(%s, ','))"
        )
        # One index probe per pair (LATERAL ... LIMIT 1): a plain join let the planner hash
        # the whole table, which grows with every event ever ingested.
        self.sql_select_usage_ids = (
            "SELECT u.w AS wallet_id, u.e AS event_id "  # noqa: S608 - quoted identifiers
            "FROM unnest(string_to_array(%s, ','), string_to_array(%s, ',')) AS u(w, e) "
            f"CROSS JOIN LATERAL (SELECT 1 FROM {table} t "
            "WHERE t.wallet_id = u.w AND t.event_id = u.e LIMIT 1) AS found"
        )
        # eventsourcing's insert of the events, with the events passed in binary: in text
        # format psycopg escapes each state (the JSON of a whole batch) with regular
        # expressions, a fifth of the server's CPU per 1,000-event batch (profiled).
        stored_event_type = f"{schema}.{_quoted(self.stored_event_type_name)}"
        self.sql_insert_events_binary = (
            f"INSERT INTO {events} AS t (originator_id, originator_version, topic, state) "  # noqa: S608 - quoted identifiers
            "SELECT originator_id, originator_version, topic, state "
            f"FROM unnest(%b::{stored_event_type}[]) RETURNING notification_id"
        )
        self.sql_select_originators = (
            f"SELECT originator_id FROM {events} "  # noqa: S608 - quoted identifiers
            "WHERE originator_id = ANY(string_to_array(%s, ',')::uuid[]) "
            "AND originator_version = 1"
        )

    supports_guards = True
    """``insert_events(..., guards=[Guard, ...])`` checks them in the transaction."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        inserted: Sequence[int] | None
        guards: Sequence[Guard] = kwargs.pop("guards", None) or ()
        if not stored_events or _usage_ids(kwargs):
            if guards:  # the committer's saves carry events and no usage ids
                raise ValueError("guards need events to insert and no usage ids")
            inserted = super().insert_events(stored_events, **kwargs)
        else:
            inserted = self._insert_in_one_round_trip(stored_events, guards)
        return inserted

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_in_one_round_trip(
        self, stored_events: Sequence[StoredEvent], guards: Sequence[Guard] = ()
    ) -> Sequence[int]:
        """eventsourcing's insert (BEGIN, lock, notify, insert, COMMIT) sent as ONE pipeline
        with one sync: one round trip per committed batch instead of five (its transaction
        and pipeline each sync on their own). On an error the rest of the pipeline is skipped
        by the server and the transaction is rolled back here, before the connection goes
        back to the pool; the error then becomes eventsourcing's (``IntegrityError`` for a
        version or receipt taken meanwhile) in ``get_connection``.

        ``guards`` (:mod:`ledger.store.guards`) are checked after the insert, under the events
        table lock (a write of their aggregates waits for it), in the same round trip: one
        that moved on fails the transaction, raised as :class:`GuardFailed`."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    self._insert_stored_events(curs, stored_events)
                    for guard in guards:
                        conn.execute(self._guard_statement(guard))
                    conn.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(Exception):
                    conn.rollback()
                if getattr(error, "sqlstate", None) == GUARD_FAILED_SQLSTATE:
                    raise GuardFailed(str(error)) from None
                raise
            return [row["notification_id"] for row in curs.fetchall()]

    def _guard_statement(self, guard: Guard) -> bytes:
        # Literals, not parameters (a DO block takes none): a UUID and an integer, both typed.
        return (
            "DO $guard$ BEGIN IF EXISTS (SELECT 1 FROM "  # noqa: S608 - quoted identifiers
            f"{self._events_table} WHERE originator_id = '{UUID(str(guard.originator_id))}'"
            f" AND originator_version > {int(guard.version)}) THEN"
            f" RAISE EXCEPTION 'guard' USING ERRCODE = '{GUARD_FAILED_SQLSTATE}'; END IF;"
            " END $guard$"
        ).encode()

    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)  # in the same transaction as the events table
        curs.execute(self.sql_create_usage_ids, prepare=False)

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        curs.execute(self.sql_insert_events_binary, (rows,))

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # Runs in the events' transaction, in pipeline mode, before the events table lock.
        # The inner pipeline syncs at its exit, so a unique violation is raised right here
        # as psycopg's IntegrityError (eventsourcing's, once the datastore maps it). Left to
        # the outer pipeline, it surfaced as "pipeline aborted" (an OperationalError that
        # eventsourcing retries ten times) whenever the insert had waited for a concurrent
        # batch holding the same ids. It also means the ids are settled before the lock.
        ids = _usage_ids(kwargs)
        if ids:
            with curs.connection.pipeline():
                curs.execute(self.sql_insert_usage_ids, _joined(ids), prepare=True)
        super()._insert_events(curs, stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def existing_usage_ids(self, ids: Sequence[UsageId]) -> set[UsageId]:
        if not ids:
            return set()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_select_usage_ids, _joined(ids), prepare=True)
            return {(row["wallet_id"], row["event_id"]) for row in curs.fetchall()}

    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        if not originator_ids:
            return set()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            joined = ",".join(str(u) for u in originator_ids)
            curs.execute(self.sql_select_originators, (joined,), prepare=True)
            return {UUID(str(row["originator_id"])) for row in curs.fetchall()}


class UsageSQLiteRecorder(SQLiteApplicationRecorder, UsageIdRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self._usage_table} ("
            "wallet_id TEXT NOT NULL, event_id TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, "
            "PRIMARY KEY (wallet_id, event_id)) WITHOUT ROWID"
        )
        return statements

    @property
    def _usage_table(self) -> str:
        return usage_ids_table_name(self.events_table_name)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = _usage_ids(kwargs)
        if ids:
            c.executemany(  # sqlite3.IntegrityError -> eventsourcing's, by the datastore
                f"INSERT INTO {self._usage_table} (wallet_id, event_id) VALUES (?, ?)",  # noqa: S608 - constant identifier
                ids,
            )
        return super()._insert_events(c, stored_events, **kwargs)

    def existing_usage_ids(self, ids: Sequence[UsageId]) -> set[UsageId]:
        found: set[UsageId] = set()
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, _SQLITE_CHUNK):
                values = ", ".join("(?, ?)" for _ in chunk)
                c.execute(
                    f"SELECT wallet_id, event_id FROM {self._usage_table} "  # noqa: S608 - constant identifier; values are parameters
                    f"WHERE (wallet_id, event_id) IN (VALUES {values})",
                    [part for pair in chunk for part in pair],
                )
                found.update((row[0], row[1]) for row in c.fetchall())
        return found

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(originator_ids, _SQLITE_CHUNK):
                marks = ", ".join("?" for _ in chunk)
                c.execute(
                    f"SELECT originator_id FROM {self.events_table_name} "  # noqa: S608 - constant identifier; values are parameters
                    f"WHERE originator_version = 1 AND originator_id IN ({marks})",
                    [u.hex for u in chunk],
                )
                found.update(UUID(row[0]) for row in c.fetchall())
        return found


class UsagePOPORecorder(POPOApplicationRecorder, UsageIdRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._usage_ids: set[UsageId] = set()

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = _usage_ids(kwargs)
        with self._database_lock:
            if len(set(ids)) < len(ids) or not self._usage_ids.isdisjoint(ids):
                raise IntegrityError("usage event id already recorded")
            # The events' own checks raise before anything is stored: then no id is kept.
            notification_ids = super()._insert_events(stored_events, **kwargs)
            self._usage_ids.update(ids)
            return notification_ids

    def existing_usage_ids(self, ids: Sequence[UsageId]) -> set[UsageId]:
        with self._database_lock:
            return {pair for pair in ids if pair in self._usage_ids}

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        with self._database_lock:
            return {u for u in originator_ids if 1 in self._stored_events_index.get(str(u), {})}


def _joined(ids: Sequence[UsageId]) -> tuple[str, str]:
    """Wallet ids and event ids, each comma-joined (neither can contain a comma)."""
    return ",".join(w for w, _ in ids), ",".join(e for _, e in ids)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_TOPICS = {
    "eventsourcing.postgres": f"{__name__}:UsagePostgresRecorder",
    "eventsourcing.sqlite": f"{__name__}:UsageSQLiteRecorder",
}


def usage_recorder_for(factory: InfrastructureFactory[Any]) -> ApplicationRecorder:
    """The application recorder of ``factory``, a usage-id recorder for each known store.

    SQLite and Postgres are told through eventsourcing's ``APPLICATION_RECORDER_TOPIC``
    setting (unless the environment names a subclass already, as failure tests do); the
    in-memory factory ignores that setting, so its recorder is built here.
    """
    module = type(factory).__module__
    if module == "eventsourcing.popo":
        return UsagePOPORecorder()
    topic = _TOPICS.get(module)
    if topic is not None and not factory.env.get(APPLICATION_RECORDER_TOPIC):
        factory.env[APPLICATION_RECORDER_TOPIC] = topic
    recorder = factory.application_recorder()
    if not isinstance(recorder, UsageIdRecorder):
        raise TypeError(f"{type(recorder).__name__} does not record usage ids")
    return recorder
