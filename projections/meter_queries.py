"""A meter's series for one wallet, aggregated at query time over the usage facts.

One SQL statement per query, the same text in SQLite and PostgreSQL but for the JSON
accessors (:meth:`projections.engine.dialect.Dialect.json_text`): facts of the wallet and the
meter's event type in ``[from, to)``, cut into UTC hour/day/month windows by
``occurred_at``, grouped by the requested dimensions (a missing dimension is the group
value ``None``). What each aggregation answers:

* ``count``: events; ``unique_count``: distinct values (by their JSON text, so ``5`` and
  ``"5"`` differ); ``sum``, ``min``, ``max``: integers over the integer values only;
* ``avg``: the exact integer sum divided by the count, as the nearest double (a meter is
  not money, so no integer rule applies);
* ``latest``: the value (as the event held it) of the event with the greatest
  ``(occurred_at, log position, index in its batch)``.

Only events holding the value count (``count`` counts every event), and a window with no
such event is absent from the series. The path keys are spliced into the SQL text, which is
safe because :mod:`ledger.metering.meters` only lets ``[A-Za-z0-9_:-]`` keys through (and the
dialect checks again).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from ledger.app.audit import WINDOWS
from ledger.domain.validation import check_time_range, fail
from ledger.metering.meters import MeterDefinition
from projections.catalog import METERS
from projections.engine.reading import live, reading
from projections.engine.store import Tx, ViewStore
from projections.models.meters import safe_text

__all__ = ["MAX_POINTS", "meter_series"]

MAX_POINTS = 10_000
"""The most (window, group) points one answer may hold: narrow ``from``/``to`` beyond it."""

OVERFLOW = "the sum overflows 64 bits in a window: narrow from/to or use a smaller window"
"""SQLite's SUM stops at 2**63 - 1 (PostgreSQL sums as NUMERIC and does not)."""

GROUPED = (
    "SELECT {window}{groups}, {aggregate} FROM {t}"
    " WHERE wallet_id = ? AND event_type = ?{filters} GROUP BY {positions} LIMIT ?"
)
LATEST = (
    "SELECT w{group_names}, v FROM (SELECT {window} AS w{groups}, {value} AS v,"
    " ROW_NUMBER() OVER (PARTITION BY {partition}"
    " ORDER BY occurred_at DESC, position DESC, seq DESC) AS rn"
    " FROM {t} WHERE wallet_id = ? AND event_type = ?{filters}) ranked"
    " WHERE rn = 1 LIMIT ?"
)


def _aggregate(tx: Tx, aggregation: str, value: str | None) -> tuple[str, str]:
    """(SQL aggregate, filter clause) of an aggregation other than ``latest``."""
    if aggregation == "count" or value is None:
        return "COUNT(*)", ""
    if aggregation == "unique_count":
        text = tx.dialect.json_text("dims", value)
        return f"COUNT(DISTINCT {text})", f" AND {text} IS NOT NULL"
    number = tx.dialect.json_integer("nums", value)
    functions = {"sum": "SUM({n})", "min": "MIN({n})", "max": "MAX({n})"}
    template = functions.get(aggregation, "SUM({n}), COUNT({n})")  # avg: exact sum / count
    return template.format(n=number), f" AND {number} IS NOT NULL"


def _statement(
    tx: Tx, definition: MeterDefinition, window: str, dimensions: list[str], filters: str
) -> str:
    start = tx.dialect.window_start(window, "occurred_at")
    groups = [tx.dialect.json_text("dims", path) for path in dimensions]
    if definition.aggregation == "latest" and definition.value is not None:
        value = tx.dialect.json_text("dims", definition.value)
        names = [f"g{i}" for i in range(len(groups))]
        return (
            LATEST.replace("{window}", start)
            .replace("{group_names}", "".join(f", {n}" for n in names))
            .replace(
                "{groups}", "".join(f", {g} AS {n}" for g, n in zip(groups, names, strict=True))
            )
            .replace("{value}", value)
            .replace("{partition}", ", ".join([start, *groups]))
            .replace("{filters}", f"{filters} AND {value} IS NOT NULL")
        )
    aggregate, value_filter = _aggregate(tx, definition.aggregation, definition.value)
    return (
        GROUPED.replace("{window}", start)
        .replace("{groups}", "".join(f", {g}" for g in groups))
        .replace("{aggregate}", aggregate)
        .replace("{filters}", filters + value_filter)
        .replace("{positions}", ", ".join(str(i + 1) for i in range(len(groups) + 1)))
    )


def _value(aggregation: str, cells: tuple[Any, ...]) -> Any:
    if aggregation == "latest":
        return json.loads(str(cells[0]))
    if aggregation == "avg":
        return int(cells[0]) / int(cells[1])
    return int(cells[0])


def _group_value(text: Any) -> Any:
    return None if text is None else json.loads(str(text))


def meter_series(
    views: ViewStore,
    *,
    wallet_id: str,
    definition: MeterDefinition,
    from_: datetime | None,
    to: datetime | None,
    window: str,
    dimensions: list[str],
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """``{"series": [{"window_start", "group", "value"}]}`` of a meter for one wallet.

    ``dimensions`` are full paths (``subject.model``); ``labels`` name them in ``group``
    (the paths themselves by default). Ordered by window start, then group. More than
    :data:`MAX_POINTS` points is refused (``validation_error`` naming ``from``), and so is a
    ``sum``/``avg`` past 64 bits in one window on SQLite.
    """
    if window not in WINDOWS:
        raise fail("window", "must be hour, day or month")
    check_time_range(from_, to)
    names = dimensions if labels is None else labels

    def query(tx: Tx) -> list[tuple[Any, ...]]:
        view = live(tx, METERS)
        filters, params = "", [wallet_id, safe_text(definition.event_type)]
        if from_ is not None:
            filters, params = filters + " AND occurred_at >= ?", [*params, tx.dialect.to_db(from_)]
        if to is not None:
            filters, params = filters + " AND occurred_at < ?", [*params, tx.dialect.to_db(to)]
        sql = _statement(tx, definition, window, dimensions, filters)
        return tx.all(tx.dialect.sql(sql, t=view.table()), [*params, MAX_POINTS + 1])

    try:
        rows = reading(views, query)
    except sqlite3.OperationalError as error:
        if "integer overflow" not in str(error):
            raise
        raise fail("from", OVERFLOW) from None
    if len(rows) > MAX_POINTS:
        raise fail("from", f"more than {MAX_POINTS} points: narrow from/to or use a larger window")
    width = len(dimensions)
    points = []
    for row in rows:
        group = [_group_value(text) for text in row[1 : 1 + width]]
        points.append(
            (
                views.dialect.from_db(row[0]),
                json.dumps(group, sort_keys=True),
                dict(zip(names, group, strict=True)),
                _value(definition.aggregation, row[1 + width :]),
            )
        )
    points.sort(key=lambda point: (point[0], point[1]))
    series = [
        {"window_start": start, "group": group, "value": value} for start, _, group, value in points
    ]
    return {"series": series}
