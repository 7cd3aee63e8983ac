"""Shard owners: which API process writes each shard, through leases in the home database.

With several API processes on one store, two processes committing the same wallet each
invalidate the other's cached copy, and a hot wallet ends in 503 ``contention``. So each
shard is *owned* by one process at a time: a row of ``ledger_shard_owners`` (shard, owner,
its internal URL, expiry by the database's clock). Other processes hand that shard's wallet
commands to the owner (:mod:`api.forwarding`). Ownership is an optimisation of routing only:
every commit is still guarded by the store's optimistic concurrency, so two processes that
both believe they own a shard (a lease that just moved) stay correct, at worst re-deciding.

Every :data:`RENEW_SECONDS` each process, in one transaction: marks itself alive in
``ledger_fleet_members``; renews its leases; releases one lease if it holds more than its
fair share (``ceil(shards / live processes)``); takes expired or free shards up to its share;
then reads the table. A process that dies stops renewing: its leases expire after
``lease_seconds`` and the others take them; a process that finds an owner refusing
connections (a killed process) takes its shard at once (:meth:`ShardOwners.take_over`).
When the database does not answer, the last table read stays in use (routing only).

Design and bounds: docs/decisions/0016-shard-owners.md.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from api.settings import Settings
from ledger.app.service import CreditLedger

__all__ = ["RENEW_SECONDS", "ShardOwners", "in_fleet", "install_tables", "open_owners"]

log = logging.getLogger(__name__)

RENEW_SECONDS = 1.0
"""How often a process renews its leases and re-reads the owners."""
FORGET_MEMBERS_SECONDS = 3600
"""Rows of processes gone for this long are deleted (housekeeping only)."""
TAKE_OVER_PAUSE_SECONDS = 0.5
"""At most one take-over attempt per shard in this time (a burst of refused forwards)."""


def _tables(schema: str) -> tuple[str, str]:
    prefix = f'"{schema}".' if schema else ""
    return f"{prefix}ledger_shard_owners", f"{prefix}ledger_fleet_members"


def install_tables(cursor: Any, schema: str) -> None:
    owners, members = _tables(schema)
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {owners} (shard integer PRIMARY KEY, "
        "owner text NOT NULL, url text NOT NULL, expires_at timestamptz NOT NULL)"
    )
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {members} (member text PRIMARY KEY, "
        "url text NOT NULL, seen_until timestamptz NOT NULL)"
    )
    # The owner channel's address (api.owner_link); '' for a process without one.
    cursor.execute(
        f"ALTER TABLE {owners} ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT ''"
    )


@dataclass
class ShardOwners:
    """This process's view of who owns which shard, kept current by a background thread.

    ``datastore`` is the home shard's eventsourcing ``PostgresDatastore`` (its
    ``transaction`` gives a cursor); ``url`` is where other processes reach this one, and
    ``channel`` its owner channel (``api.owner_channel``; "" for none), published with every
    lease it holds.
    """

    datastore: Any
    shards: int
    url: str
    lease_seconds: float = 3.0
    channel: str = ""
    member: str = field(default_factory=lambda: uuid.uuid4().hex)
    _owners: dict[int, str] = field(default_factory=dict)
    _channels: dict[int, str] = field(default_factory=dict)
    _mine: frozenset[int] = frozenset()
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _tried: dict[int, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _installed: bool = False

    # -- what the forwarding reads (any thread; plain reads of replaced objects) -----------

    def owner_url(self, shard: int) -> str | None:
        """The internal URL of ``shard``'s owner if another process owns it, else None
        (this process owns it, or nobody does: decide here)."""
        if shard in self._mine:
            return None
        return self._owners.get(shard)

    def owner_channel(self, shard: int) -> str | None:
        """The owner channel of ``shard``'s owner when another process owns it and has one."""
        if shard in self._mine:
            return None
        return self._channels.get(shard) or None

    def owns(self, shard: int) -> bool:
        return shard in self._mine

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the tables, take a first look (and leases), then keep renewing.

        A first round that fails (the database is restarting, or another process creates
        the tables at the same moment) is not fatal: the thread retries every second, and
        meanwhile this process decides every command itself."""
        try:
            self.renew()
        except Exception:
            log.warning("the first round of shard leases failed; retrying", exc_info=True)
        self._thread = threading.Thread(target=self._loop, name="shard-owners", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop renewing and give the leases back, so others take them at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        owners, members = _tables(self.datastore.schema)
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(f"DELETE FROM {owners} WHERE owner = %s", [self.member])  # noqa: S608 - constant table name
                cursor.execute(f"DELETE FROM {members} WHERE member = %s", [self.member])  # noqa: S608
        except Exception:
            log.warning("could not give the shard leases back; they expire instead")

    def _loop(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew()
            except Exception:
                log.warning("renewing shard leases failed; keeping the last view", exc_info=True)

    # -- the lease round -------------------------------------------------------------------

    def renew(self) -> None:
        """One round: alive, renew, release above the fair share, take up to it, read."""
        owners, members = _tables(self.datastore.schema)
        ttl = f"{self.lease_seconds} seconds"
        if not self._installed:
            with self.datastore.transaction(commit=True) as cursor:
                install_tables(cursor, self.datastore.schema)
                self._replace_predecessor(cursor, owners, members)
            self._installed = True
        with self._lock, self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {members} (member, url, seen_until) "  # noqa: S608 - constant table name
                "VALUES (%s, %s, now() + %s::interval) ON CONFLICT (member) DO UPDATE "
                "SET url = excluded.url, seen_until = excluded.seen_until",
                [self.member, self.url, ttl],
            )
            c.execute(
                f"DELETE FROM {members} WHERE seen_until < now() - %s::interval",  # noqa: S608
                [f"{FORGET_MEMBERS_SECONDS} seconds"],
            )
            c.execute(f"SELECT count(*) AS n FROM {members} WHERE seen_until > now()")  # noqa: S608
            live = max(1, int(c.fetchone()["n"]))
            fair = math.ceil(self.shards / live)
            c.execute(
                f"UPDATE {owners} SET expires_at = now() + %s::interval, url = %s, "  # noqa: S608
                "channel = %s WHERE owner = %s RETURNING shard",
                [ttl, self.url, self.channel, self.member],
            )
            mine = sorted(int(row["shard"]) for row in c.fetchall())
            if len(mine) > fair:
                # One a round, the highest: others below their share take it next round.
                c.execute(
                    f"UPDATE {owners} SET expires_at = now() WHERE shard = %s",  # noqa: S608
                    [mine.pop()],
                )
            elif len(mine) < fair:
                mine += self._take_free(c, owners, fair - len(mine), ttl)
            c.execute(
                f"SELECT shard, owner, url, channel FROM {owners} WHERE expires_at > now()"  # noqa: S608
            )
            rows = c.fetchall()
        self._publish(rows)

    def _replace_predecessor(self, c: Any, owners: str, members: str) -> None:
        """Another member listed at this process's URL is its predecessor, killed (one
        process per internal URL: a live one would hold the address). Its row and leases go
        before this process's first round, so the fair share counts live processes only and
        its shards are free at once, instead of up to a lease later, with shards released
        and taken back meanwhile (each move leaves a second of two owners)."""
        for table, column in ((owners, "owner"), (members, "member")):
            c.execute(
                f"DELETE FROM {table} WHERE url = %s AND {column} <> %s",  # noqa: S608 - constants
                [self.url, self.member],
            )

    def _take_free(self, c: Any, owners: str, wanted: int, ttl: str) -> list[int]:
        taken: list[int] = []
        # Start at a place of our own so that processes starting together spread out.
        offset = int(self.member[:8], 16) % self.shards
        for step in range(self.shards):
            if len(taken) == wanted:
                break
            shard = (offset + step) % self.shards
            c.execute(
                f"INSERT INTO {owners} (shard, owner, url, channel, expires_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, now() + %s::interval) ON CONFLICT (shard) DO UPDATE "
                "SET owner = excluded.owner, url = excluded.url, channel = excluded.channel, "
                f"expires_at = excluded.expires_at WHERE {owners}.expires_at <= now() "
                "RETURNING shard",
                [shard, self.member, self.url, self.channel, ttl],
            )
            if c.fetchone() is not None:
                taken.append(shard)
        return taken

    def _publish(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace the view (rows are dicts: eventsourcing's datastore uses dict rows)."""
        self._owners = {int(r["shard"]): str(r["url"]) for r in rows if r["owner"] != self.member}
        self._channels = {
            int(r["shard"]): str(r["channel"]) for r in rows if r["owner"] != self.member
        }
        self._mine = frozenset(int(r["shard"]) for r in rows if r["owner"] == self.member)

    def take_over(self, shard: int, dead_url: str) -> None:
        """The owner at ``dead_url`` refused a connection: take ``shard`` if it still has it.

        Blocking (a database round trip): call it off the event loop. Rate-limited per shard.
        Whoever wins, the caller decides its request here, which is always correct.
        """
        now = time.monotonic()
        if now - self._tried.get(shard, 0.0) < TAKE_OVER_PAUSE_SECONDS:
            return
        self._tried[shard] = now
        owners, _ = _tables(self.datastore.schema)
        try:
            with self._lock, self.datastore.transaction(commit=True) as c:
                c.execute(
                    f"UPDATE {owners} SET owner = %s, url = %s, channel = %s, "  # noqa: S608
                    "expires_at = now() + %s::interval WHERE shard = %s AND url = %s",
                    [
                        self.member,
                        self.url,
                        self.channel,
                        f"{self.lease_seconds} seconds",
                        shard,
                        dead_url,
                    ],
                )
                c.execute(
                    f"SELECT shard, owner, url, channel FROM {owners} WHERE expires_at > now()"  # noqa: S608
                )
                rows = c.fetchall()
        except Exception:
            log.warning("taking over shard %d failed", shard, exc_info=True)
            return
        self._publish(rows)
        log.info("shard %d: owner at %s refused connections; owner now %s", shard, dead_url,
                 "this process" if shard in self._mine else self._owners.get(shard))  # fmt: skip


def in_fleet(ledger: CreditLedger, settings: Settings) -> bool:
    """A fleet member has an internal URL and a PostgreSQL store. On SQLite or in memory
    there is one process, which owns everything."""
    datastore = getattr(ledger.recorder, "datastore", None)
    return bool(settings.internal_url) and isinstance(datastore, PostgresDatastore)


def open_owners(ledger: CreditLedger, settings: Settings, channel: str = "") -> ShardOwners | None:
    """Start this process's shard leases if it is part of a fleet (:func:`in_fleet`), else
    None. ``ledger`` is the home shard's application (its datastore holds the lease
    tables); ``channel`` this process's owner channel, published with its leases."""
    url = settings.internal_url
    if not url or not in_fleet(ledger, settings):
        return None
    owners = ShardOwners(
        ledger.recorder.datastore,  # type: ignore[attr-defined]
        len(ledger.shards),
        url.rstrip("/"),
        lease_seconds=settings.shard_lease_seconds,
        channel=channel,
    )
    owners.start()
    return owners
