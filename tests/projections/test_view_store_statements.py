"""``Tx.insert_many`` and ``Tx.all_in`` on SQLite, and the array form they take on PostgreSQL."""

from __future__ import annotations

import pytest

from projections.engine.pgstore import over_arrays
from projections.engine.store import SQLiteViews

TYPES = {"a": "text", "b": "bigint", "c": "timestamp with time zone"}


def test_over_arrays_unnests_one_array_per_parameter_and_keeps_constants_and_the_rest() -> None:
    sql = (
        "INSERT INTO t AS cur (a, b, c) VALUES (%s, 0, %s)"
        " ON CONFLICT (a) DO UPDATE SET b = cur.b + excluded.b"
    )
    assert over_arrays(sql, TYPES) == (
        "INSERT INTO t AS cur (a, b, c) SELECT u.c1, 0, u.c2"
        " FROM unnest(%b::text[], %b::timestamp with time zone[]) AS u(c1, c2)"
        " ON CONFLICT (a) DO UPDATE SET b = cur.b + excluded.b"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = %s WHERE b = %s",
        "INSERT INTO t (a, b) VALUES (%s",
        "INSERT INTO t (a, b) VALUES (%s, %s, %s)",
    ],
)
def test_over_arrays_refuses_what_is_not_one_values_row_per_column(sql: str) -> None:
    with pytest.raises(ValueError, match="one row of values for every column"):
        over_arrays(sql, TYPES)


def test_insert_many_and_all_in_on_sqlite_write_and_read_every_row() -> None:
    with SQLiteViews(None) as views, views.write() as tx:
        tx.execute("CREATE TABLE sums (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        upsert = (
            "INSERT INTO sums AS cur (k, n) VALUES (?, ?)"
            " ON CONFLICT (k) DO UPDATE SET n = cur.n + excluded.n"
        )
        rows = [(f"k{i}", i) for i in range(1200)]
        tx.insert_many(upsert, rows)
        tx.insert_many(upsert, rows[:10])
        wanted = [f"k{i}" for i in range(0, 1300, 2)]  # some absent: more than one IN list
        found = dict(tx.all_in("SELECT k, n FROM sums WHERE k IN", wanted))
        assert found == {f"k{i}": (2 * i if i < 10 else i) for i in range(0, 1200, 2)}
