"""SQL dialects of the view stores: PostgreSQL (psycopg 3) and SQLite (stdlib sqlite3).

Projections keep one SQL text per statement, as module constants written with ``?``
placeholders and ``{name}`` slots. :meth:`Dialect.sql` fills the slots with quoted table
and index names and the dialect's column types, and turns ``?`` into ``%s`` for psycopg.
Everything else is spelled the same in both databases (``INSERT ... AS cur ... ON CONFLICT
... DO UPDATE SET x = cur.x + excluded.x`` works in PostgreSQL and SQLite >= 3.24), so the
layer stays this small.

Instants: PostgreSQL stores ``timestamptz``. SQLite has no time type, so instants are
stored as fixed-width UTC text (``2026-01-01T05:30:00.000000Z``) whose text order is time
order, which keeps range filters and ``MAX`` correct without any conversion in SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["POSTGRES", "SQLITE", "Dialect", "day_start", "hour_start", "postgres"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]{0,62}")
# Keys of JSON objects spliced into SQL (see Dialect.json_text): no quote can occur in them.
_JSON_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

# SQLite window starts: cut the fixed-width text and pad it back to a full instant.
_SQLITE_WINDOWS = {
    "hour": "substr({c}, 1, 13) || ':00:00.000000Z'",
    "day": "substr({c}, 1, 10) || 'T00:00:00.000000Z'",
    "month": "substr({c}, 1, 7) || '-01T00:00:00.000000Z'",
}


def hour_start(when: datetime) -> datetime:
    """The start of the UTC hour containing ``when`` (the grain of the usage view)."""
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(when: datetime) -> datetime:
    """The start of the UTC day containing ``when`` (the grain of daily balance movements)."""
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _sqlite_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError(f"views store aware instants only, got {when!r}")
    naive = when.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Dialect:
    """What differs between the two SQL databases the views live in."""

    name: str
    schema: str | None
    bigint: str
    timestamp: str
    for_update: str
    for_share: str
    greatest: str
    json_type: str = "TEXT"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    def quote(self, identifier: str) -> str:
        """A quoted identifier; names are checked because they are spliced into SQL."""
        if not _IDENTIFIER.fullmatch(identifier):
            raise ValueError(f"not a safe SQL identifier: {identifier!r}")
        return f'"{identifier}"'

    def table(self, name: str) -> str:
        """A table name, qualified with the schema on PostgreSQL."""
        if self.schema is None:
            return self.quote(name)
        return f"{self.quote(self.schema)}.{self.quote(name)}"

    def sql(self, template: str, **names: str) -> str:
        """Fill a statement template and convert its placeholders for the driver.

        Slots named ``ix_*`` are index names (never schema-qualified: PostgreSQL puts an
        index in its table's schema); every other named slot is a table. ``{bigint}``,
        ``{ts}``, ``{greatest}``, ``{json}``, ``{for_update}`` and ``{for_share}`` are
        dialect words.
        """
        filled = template.format(
            bigint=self.bigint,
            ts=self.timestamp,
            greatest=self.greatest,
            json=self.json_type,
            for_update=self.for_update,
            for_share=self.for_share,
            **{
                key: self.quote(value) if key.startswith("ix_") else self.table(value)
                for key, value in names.items()
            },
        )
        # The templates contain no literal '?' or '%', so this rewrite is exact.
        return filled.replace("?", "%s") if self.is_postgres else filled

    def to_db(self, when: datetime) -> Any:
        """An instant as the driver should receive it."""
        if self.is_postgres:
            if when.tzinfo is None:
                raise ValueError(f"views store aware instants only, got {when!r}")
            return when
        return _sqlite_time(when)

    def from_db(self, value: Any) -> datetime:
        """An instant read back, always as an aware UTC datetime."""
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(str(value)).astimezone(UTC)

    def window_start(self, window: str, column: str) -> str:
        """SQL for the start of the UTC ``hour``/``day``/``month`` containing ``column``."""
        if window not in _SQLITE_WINDOWS:
            raise ValueError(f"unknown window {window!r}")
        if self.is_postgres:
            return f"date_trunc('{window}', {column}, 'UTC')"
        return _SQLITE_WINDOWS[window].format(c=column)

    def json_text(self, column: str, key: str) -> str:
        """SQL for the string at top-level ``key`` of the JSON object in ``column`` (NULL when
        absent); ``key`` is checked because it is spliced into SQL."""
        if not _JSON_KEY.fullmatch(key):
            raise ValueError(f"not a safe JSON key: {key!r}")
        if self.is_postgres:
            return f"({column} ->> '{key}')"
        return f"json_extract({column}, '$.\"{key}\"')"

    def json_integer(self, column: str, key: str) -> str:
        """SQL for the integer at top-level ``key`` of the JSON object in ``column``."""
        text = self.json_text(column, key)
        # PostgreSQL's ->> gives text; NUMERIC keeps sums of 64-bit integers exact.
        return f"CAST({text} AS NUMERIC)" if self.is_postgres else text


SQLITE = Dialect(
    name="sqlite",
    schema=None,
    bigint="INTEGER",
    timestamp="TEXT",
    for_update="",  # SQLite locks the whole database: BEGIN IMMEDIATE is the write lock
    for_share="",
    greatest="MAX",  # two-argument MAX is SQLite's scalar GREATEST
)

POSTGRES = Dialect(
    name="postgresql",
    schema="public",
    bigint="BIGINT",
    timestamp="TIMESTAMPTZ",
    for_update=" FOR UPDATE",
    for_share=" FOR SHARE",
    greatest="GREATEST",
    json_type="JSONB",
)


def postgres(schema: str) -> Dialect:
    """The PostgreSQL dialect for views in ``schema`` (the events' schema)."""
    return Dialect(**{**POSTGRES.__dict__, "schema": schema or "public"})
