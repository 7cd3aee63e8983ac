"""Audit reads folded straight from the event log: journal, trial balance, usage.

These scan the notification log on every call, which is exact but O(log size); the read
models in ``projections/`` replace them for large ledgers. Every posting becomes two journal
rows (one per leg) that share the event's ``position`` (its notification id) and are numbered
by ``leg`` within it. A page holds at most ``limit`` rows (contract 1.1): whole events while
they fit (:func:`journal_cut`), and only an event with more legs than ``limit`` is split, its
cursor then naming the leg the page stopped at (``next_after_leg``, passed back as
``after_leg``).

A sharded ledger (see :mod:`ledger.app.shards`) is read shard after shard, at encoded positions:
every row of shard 0, then of shard 1, and so on, which is the read models' journal order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.app.shards import decode_position, encode_position
from ledger.domain.events import (
    WALLET_TOPICS,
    CreditsDebited,
    HoldCaptured,
    UsageUncollected,
    WalletEvent,
    WalletOpened,
    event_type,
)
from ledger.domain.ids import wallet_uuid
from ledger.domain.state import SUBJECT_KEYS
from ledger.domain.validation import check_position, check_time_range, fail

if TYPE_CHECKING:
    from ledger.app.application import LedgerApplication

__all__ = [
    "MAX_LIMIT",
    "WINDOWS",
    "check_after_leg",
    "check_page_limit",
    "check_usage_query",
    "journal",
    "journal_cut",
    "journal_rows",
    "trial_balance",
    "usage_series",
]

PAGE = 500
MAX_LIMIT = 1000
MAX_LEG = 2**31 - 2
"""The largest leg a cursor may name (a leg is an index within one event's rows)."""
WINDOWS = ("hour", "day", "month")
_UNIT_MARK = "platform:"


def check_page_limit(limit: int) -> None:
    """A journal page holds 1 to MAX_LIMIT rows (the log scan and the read model agree)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise fail("limit", f"must be between 1 and {MAX_LIMIT}")


def check_after_leg(after: int, after_leg: int | None) -> None:
    """A cursor inside an event: a leg of a position (``after`` 0 is before every event)."""
    if after_leg is None:
        return
    if not 0 <= after_leg <= MAX_LEG:
        raise fail("after_leg", f"must be between 0 and {MAX_LEG}")
    if after == 0:
        raise fail("after_leg", "needs after: the position of the event it is a leg of")


def journal_cut(keys: Sequence[tuple[int, int]], limit: int) -> tuple[int, int | None]:
    """How many of ``keys`` one page holds, and the leg its cursor stops at (None: after a
    whole event).

    ``keys`` are the ``(position, leg)`` of the rows after the cursor, in journal order, at
    most ``limit + 1`` of them (one more than a page, to see whether the last event goes on).
    The page keeps whole events while they fit in ``limit`` rows; only an event larger than a
    page is split (the page then ends ``limit`` rows into it).
    """
    if len(keys) <= limit:
        return len(keys), None
    last, following = keys[limit - 1], keys[limit]
    if following[0] != last[0]:
        return limit, None
    for index in range(limit - 1, -1, -1):
        if keys[index][0] != last[0]:
            return index + 1, None  # end before the event that does not fit
    return limit, last[1]


def check_usage_query(window: str, group_by: list[str]) -> None:
    """A usage query's window and grouping keys (the log scan and the read model agree)."""
    if window not in WINDOWS:
        raise fail("window", "must be hour, day or month")
    for key in group_by:
        if key not in SUBJECT_KEYS:
            raise fail("group_by", f"unknown key {key!r}")


def _notifications(app: LedgerApplication, after: int) -> Iterator[tuple[int, WalletEvent]]:
    """(position, event) for every wallet event after ``after``, in log order (shard by
    shard, at encoded positions)."""
    first, after_id = decode_position(after)
    for shard in app.home.shards[first:]:
        start = (after_id if shard.shard_index == first else 0) + 1
        while True:
            # Only wallet topics: other aggregates (receipts, API keys) are not the ledger's
            # to decode.
            page = shard.recorder.select_notifications(
                start=start, limit=PAGE, topics=WALLET_TOPICS
            )
            for notification in page:
                event = shard.mapper.to_domain_event(notification)
                if isinstance(event, WalletEvent):
                    yield encode_position(shard.shard_index, notification.id), event
            if len(page) < PAGE:
                break
            start = page[-1].id + 1


class _Wallets:
    """Resolves an event's aggregate id to its wallet id and unit, loading each once."""

    def __init__(self, app: LedgerApplication) -> None:
        self._app = app
        self._known: dict[UUID, tuple[str, str]] = {}

    def see(self, position: int, event: WalletEvent) -> tuple[str, str]:
        """The wallet id and unit of ``event`` (read at log ``position``)."""
        if isinstance(event, WalletOpened):
            self._known[event.originator_id] = (event.wallet_id, event.unit)
        if event.originator_id not in self._known:
            # Opened before the page began: load it from the shard the position names.
            shard = self._app.home.shards[decode_position(position)[0]]
            wallet: Any = shard.find(event.originator_id)
            self._known[event.originator_id] = (wallet.wallet_id, wallet.unit)
        return self._known[event.originator_id]


def journal_rows(
    position: int, event: WalletEvent, wallet_id: str, unit: str
) -> list[dict[str, Any]]:
    """Two rows per posting (debit leg, credit leg) with lineage to event and command."""
    common = {
        "position": position,
        "transaction_id": f"{wallet_id}/{event.originator_version}",
        "wallet_id": wallet_id,
        "unit": unit,
        "occurred_at": event.occurred_at,
        "recorded_at": event.timestamp,
        "event": {
            "wallet_id": wallet_id,
            "version": event.originator_version,
            "type": event_type(event),
        },
        "idempotency_key": getattr(event, "idempotency_key", None),
    }
    rows = []
    for posting in event.postings:
        rows.append(
            {**common, "account": posting["debit"], "debit": posting["amount"], "credit": 0}
        )
        rows.append(
            {**common, "account": posting["credit"], "debit": 0, "credit": posting["amount"]}
        )
    return rows


def journal(
    app: LedgerApplication,
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int = 0,
    after_leg: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of at most ``limit`` journal rows after the cursor ``(after, after_leg)``
    (``after_leg`` None: after the whole event at ``after``); ``from_``/``to`` filter
    ``occurred_at`` in ``[from_, to)``. ``next_after`` (and ``next_after_leg``, when the page
    ends inside an event) continue it; on a short page, ``next_after`` is the last event
    looked at."""
    check_page_limit(limit)
    check_position("after", after)
    check_after_leg(after, after_leg)
    check_time_range(from_, to)
    wanted = wallet_uuid(wallet_id) if wallet_id is not None else None
    cursor = (after, MAX_LEG + 1 if after_leg is None else after_leg)
    wallets, found, last = _Wallets(app), [], after
    # A cursor inside an event starts the scan at that event (its position is never 0).
    for position, event in _notifications(app, after if after_leg is None else after - 1):
        owner, unit = wallets.see(position, event)
        last = max(last, position)
        if wanted is not None and event.originator_id != wanted:
            continue
        if (from_ and event.occurred_at < from_) or (to and event.occurred_at >= to):
            continue
        found += [
            ((position, leg), row)
            for leg, row in enumerate(journal_rows(position, event, owner, unit))
            if account in (None, row["account"]) and (position, leg) > cursor
        ]
        if len(found) > limit:
            break
    count, stop_leg = journal_cut([key for key, _ in found], limit)
    page = found[:count]
    next_after = page[-1][0][0] if len(found) > limit else last
    return {
        "entries": [row for _, row in page],
        "next_after": next_after,
        "next_after_leg": stop_leg,
    }


def trial_balance(
    app: LedgerApplication, *, as_of: datetime, unit: str | None = None
) -> dict[str, Any]:
    """Debit and credit totals per account over postings dated at or before ``as_of``."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wallets = _Wallets(app)
    for position, event in _notifications(app, 0):
        _, wallet_unit = wallets.see(position, event)
        if event.occurred_at > as_of or unit not in (None, wallet_unit):
            continue
        for posting in event.postings:
            totals[posting["debit"]][0] += posting["amount"]
            totals[posting["credit"]][1] += posting["amount"]
    accounts = [
        {"account": name, "debit_total": d, "credit_total": c, "balance": d - c}
        for name, (d, c) in sorted(totals.items())
    ]
    debit_total = sum(d for d, _ in totals.values())
    credit_total = sum(c for _, c in totals.values())
    return {
        "as_of": as_of,
        "unit": unit,
        "accounts": accounts,
        "debit_total": debit_total,
        "credit_total": credit_total,
        "balanced": debit_total == credit_total,
    }


def window_start(when: datetime, window: str) -> datetime:
    """Start of the UTC hour, day or month containing ``when`` (whatever its offset)."""
    when = when.astimezone(UTC)
    if window == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    if window == "day":
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_series(
    app: LedgerApplication,
    *,
    wallet_id: str,
    from_: datetime | None,
    to: datetime | None,
    window: str,
    group_by: list[str],
) -> dict[str, Any]:
    """Credits debited (debits and captures) and their count per window and subject group,
    and the credits of billed usage not collected (``uncollected``)."""
    check_usage_query(window, group_by)
    check_time_range(from_, to)
    app.load_wallet(wallet_id)
    cells: dict[tuple[datetime, tuple[str | None, ...]], list[int]] = defaultdict(lambda: [0, 0, 0])
    for event in app.shard_for(wallet_id).events.get(wallet_uuid(wallet_id)):
        debited = uncollected = 0
        if isinstance(event, CreditsDebited):
            when, debited, uncollected = event.usage_at, event.amount, event.uncollected
        elif isinstance(event, HoldCaptured):
            when, debited = event.occurred_at, event.captured
        elif isinstance(event, UsageUncollected):
            when, uncollected = event.usage_at, event.amount
        else:
            continue
        if (from_ and when < from_) or (to and when >= to):
            continue
        group = tuple(event.subject.get(key) for key in group_by)
        cell = cells[(window_start(when, window), group)]
        if not isinstance(event, UsageUncollected):
            cell[0] += debited
            cell[1] += 1
        cell[2] += uncollected
    series = [
        {
            "window_start": start,
            "group": dict(zip(group_by, group, strict=True)),
            "debited": d,
            "count": n,
            "uncollected": u,
        }
        for (start, group), (d, n, u) in sorted(
            cells.items(), key=lambda item: (item[0][0], str(item[0][1]))
        )
    ]
    return {"series": series}
