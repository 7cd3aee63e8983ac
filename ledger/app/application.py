"""LedgerApplication: one shard's event store on eventsourcing (the only ledger module that
imports ``eventsourcing.application``). Postgres, SQLite or in-memory by settings.

It saves, finds and loads aggregates, answers a key's earlier result (``replay``), keeps hold
records in step and takes snapshots: what the writers (``ledger.app.ports.ShardStore``) and
the services need of a store. It decides nothing: the services (``ledger.app.wallets``,
``spending``, ``pricing``, ...) decide, and the shard's ``writer`` commits. The home shard
is the facade ``ledger.app.service.CreditLedger``; ``ledger.app.bootstrap`` wires the rest.
Time comes from an injected clock, so tests control it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InternalError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
    Recording,
    Transcoding,
)

from ledger.app.commands import Command, key_of
from ledger.app.executor import Outcome, StripedLocks, backoff_seconds
from ledger.app.holds import HoldRecords
from ledger.app.ports import Writer
from ledger.app.shards import (
    ShardEnvironment,
    encode_position,
    on_wallet_shard,
    route,
    shard_name,
    sqlite_shard_path,
)
from ledger.app.snapshots import Snapshotter
from ledger.domain.allowances import Allowance
from ledger.domain.errors import (
    Contention,
    IdempotencyConflict,
    Overloaded,
    WalletNotFound,
)
from ledger.domain.events import (
    WalletEvent,
)
from ledger.domain.ids import receipt_id, wallet_uuid
from ledger.domain.records import HoldRecord, Receipt
from ledger.domain.state import Budget, Grant, Hold
from ledger.domain.wallet import Wallet
from ledger.metering.ingest import DEFAULT_LATE_GRACE
from ledger.store.layout import shard_store_settings
from ledger.store.recorders import UsageIdRecorder, usage_recorder_for

__all__ = ["MAX_ATTEMPTS", "LedgerApplication", "utc_now"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SNAPSHOT_INTERVAL = 500
STARTUP_ATTEMPTS = 6


def utc_now() -> datetime:
    return datetime.now(UTC)


class _DataclassAsDict(Transcoding):
    """Snapshots store wallet state objects as their fields (stable names, never renamed)."""

    def __init__(self, cls: type[Any], name: str) -> None:
        self.type = cls
        self.name = name

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class LedgerApplication(Application[UUID]):
    """One shard's event store (shard 0 is the home: server-wide aggregates live there)."""

    # eventsourcing names tables and env prefixes after the application: keep "Ledger"
    # (tables ledger_events, ledger_snapshots; env prefix LEDGER_).
    name = "Ledger"
    snapshot_class = Snapshot
    is_snapshotting_enabled = True
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    writer: Writer
    """How this shard's commands are committed; set by ``ledger.app.bootstrap``."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = MAX_ATTEMPTS,
        on_conflict: Callable[[str], None] | None = None,
        shard_index: int = 0,
    ) -> None:
        # Shard k > 0 has its own tables (ledger_s<k>_*); see ledger.app.shards. Set before the
        # infrastructure is built, because construct_env names the tables.
        self.shard_index = shard_index
        self._read_locks = StripedLocks()  # see find()
        self.shards: list[LedgerApplication] = [self]
        self.home: LedgerApplication = self
        self.given_env = dict(env or {})
        """The settings this shard was opened with (the other shards are opened with them)."""
        self._construct(dict(env or {}))
        self.clock = clock
        self.max_attempts = max_attempts
        # Told the command's class name each time a save collides and is re-decided
        # (the API counts these as contention retries; the domain knows no metrics library).
        self.on_conflict = on_conflict
        self.holds = HoldRecords(self.find)
        # LEDGER_SNAPSHOT_INTERVAL (or SNAPSHOT_INTERVAL): versions between wallet snapshots.
        interval = int(self.env.get("SNAPSHOT_INTERVAL", str(SNAPSHOT_INTERVAL)))
        self.snapshotter = Snapshotter(self._snapshot, interval=interval)

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Any:
        base = super().construct_env(name, env)
        if self.shard_index == 0:
            return base
        own = shard_name(name, self.shard_index)
        settings = dict(base)
        dbname = base.get("SQLITE_DBNAME")
        if base.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and dbname:
            # eventsourcing's SQLite tables ignore the application name: a file per shard.
            settings[f"{own.upper()}_SQLITE_DBNAME"] = sqlite_shard_path(dbname, self.shard_index)
        # Fleet hook (decision 0017): shard k's store from LEDGER_SHARD_URLS, if given.
        settings.update(shard_store_settings(base, own, self.shard_index))
        return ShardEnvironment(own, settings, base=name)

    def shard_for(self, wallet_id: str) -> LedgerApplication:
        """The shard that holds ``wallet_id`` (the same answer from every shard)."""
        return route(self.home.shards, wallet_id)

    def construct_recorder(self) -> ApplicationRecorder:
        # eventsourcing's hook: the recorders that also write usage ingest's id rows.
        return usage_recorder_for(self.factory)

    @property
    def usage_ids(self) -> UsageIdRecorder:
        recorder = self.recorder
        if not isinstance(recorder, UsageIdRecorder):
            raise TypeError(f"{type(recorder).__name__} does not record usage ids")
        return recorder

    def usage_late_grace(self) -> timedelta:
        """``LEDGER_USAGE_LATE_GRACE_SECONDS`` (or ``USAGE_LATE_GRACE_SECONDS``): 24 h."""
        seconds = self.env.get("USAGE_LATE_GRACE_SECONDS")
        return DEFAULT_LATE_GRACE if not seconds else timedelta(seconds=int(seconds))

    def position_of(self, recordings: Iterable[Any]) -> int | None:
        """The log position (shard-encoded) of the last of ``recordings``."""
        last = max((r.notification.id for r in recordings), default=None)
        return None if last is None else encode_position(self.shard_index, last)

    def close(self) -> None:
        try:
            if self.shard_index == 0:
                # Every shard is closed even if one fails; the list stays, so a closed ledger
                # fails loudly instead of routing every wallet to the home store.
                for shard in self.shards[1:]:
                    try:
                        shard.close()
                    except Exception:
                        log.exception("closing shard %d failed", shard.shard_index)
        finally:
            writer = getattr(self, "writer", None)  # None if wiring failed half-way
            if writer is not None:
                writer.close()
            self.snapshotter.close()
            super().close()

    def _snapshot(self, aggregate: Aggregate) -> None:
        """Store a snapshot of ``aggregate`` (a copy taken right after it was saved): what
        ``take_snapshot`` stores, without reloading that version from the store."""
        if self.snapshots is None:  # is_snapshotting_enabled is set: cannot happen
            raise RuntimeError("this ledger has no snapshot store")
        snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
        self.snapshots.put([snapshot_class.take(aggregate)])

    def _construct(self, env: dict[str, str]) -> None:
        """Build the infrastructure; retry a race between processes creating the tables.

        Every process runs ``CREATE ... IF NOT EXISTS`` / ``CREATE OR REPLACE FUNCTION`` at
        start, and Postgres refuses two at once ("tuple concurrently updated").
        """
        for attempt in range(STARTUP_ATTEMPTS):
            try:
                super().__init__(env)
            except (InternalError, OperationalError):
                if attempt == STARTUP_ATTEMPTS - 1:
                    raise
                factory = getattr(self, "factory", None)
                if factory is not None:
                    factory.close()
                time.sleep(backoff_seconds(attempt + 4))
            else:
                return

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_DataclassAsDict(Grant, "ledger_grant"))
        transcoder.register(_DataclassAsDict(Hold, "ledger_hold"))
        transcoder.register(_DataclassAsDict(Budget, "ledger_budget"))
        transcoder.register(_DataclassAsDict(Allowance, "ledger_allowance"))

    key_of = staticmethod(key_of)

    def now(self) -> datetime:
        at = self.clock()
        if at.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return at.astimezone(UTC)

    # -- loading ----------------------------------------------------------------------------

    @on_wallet_shard
    def load_wallet(self, wallet_id: str) -> Wallet:
        wallet: Wallet | None = self.find(wallet_uuid(wallet_id))
        if wallet is None:
            raise WalletNotFound(wallet_id)
        return wallet

    @on_wallet_shard
    def wallet_as_of(self, wallet_id: str, as_of: datetime) -> Wallet:
        """The wallet folded from its events up to ``as_of`` (a past time; never cached)."""
        # Event dates never decrease by version (Wallet.advance): stop at the first later one.
        wallet: Wallet | None = None
        for event in self.events.get(wallet_uuid(wallet_id)):
            if not isinstance(event, WalletEvent) or event.occurred_at > as_of:
                break
            wallet = event.mutate(wallet)
        if wallet is None:
            raise WalletNotFound(wallet_id)
        return wallet

    def find(self, aggregate_id: UUID) -> Any | None:
        """A copy of the aggregate, fast-forwarded; None if there is none.

        One reader of an id at a time in this process: eventsourcing's cached ``get``
        fast-forwards the cached aggregate under its lock but deep-copies it outside, so a
        second reader's copy could meet a dict the first is changing ("dictionary changed size
        during iteration", seen as 500s on a hot wallet's reads)."""
        with self._read_locks.for_key(str(aggregate_id)):
            try:
                return self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None

    # -- what the writers and services need of the store ------------------------------------

    def claim_key(self, scope: str, key: str, command: Command) -> None:
        """Reserve a server-wide idempotency ``key`` for ``command`` in this (home) store.

        With shards, a server-wide command (opening a wallet) commits in another store than
        its key's other uses might, so the key is claimed here first: a claim made for
        another request raises ``IdempotencyConflict``; the same request (a retry) goes on.
        A claim is never taken back, so a key whose request was then refused for the state
        it met (``wallet_exists``) stays bound to that request.
        """
        rid = receipt_id(scope, key)
        fingerprint = command.fingerprint()
        for _ in range(2):
            if self.replay(rid, key, fingerprint) is not None:
                return  # claimed before for this very request (a conflict raised otherwise)
            claim = Receipt.claim(
                receipt_id=rid,
                scope=scope,
                key=key,
                operation=type(command).__name__,
                fingerprint=fingerprint,
            )
            try:
                self.save(claim)
            except IntegrityError:
                continue  # claimed meanwhile: compare with that claim
            return
        raise Contention(scope or "(server)", 2)

    def replay(self, rid: UUID, key: str, fingerprint: str) -> Outcome | None:
        receipt: Receipt | None = self.find(rid)
        if receipt is None:
            return None
        if receipt.fingerprint != fingerprint:
            raise IdempotencyConflict(key)
        return Outcome(receipt.result, replayed=True)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save atomically; a store failure other than a conflict becomes ``overloaded``.

        The commit may or may not have happened (a lost acknowledgement), which is why the
        answer is "retry with the same idempotency key": the receipt makes that safe.
        """
        wallets = [(o, o.version - len(o.pending_events)) for o in objs if isinstance(o, Wallet)]
        try:
            if all(isinstance(o, Aggregate) for o in objs):
                recordings = self._save_aggregates(objs, kwargs)
            else:
                recordings = super().save(*objs, **kwargs)
        except IntegrityError:
            raise
        except PersistenceError as error:
            raise Overloaded(
                f"the event store did not accept the write: {type(error).__name__}"
            ) from error
        for wallet, before in wallets:
            self.snapshotter.saved(wallet, before)
        self.holds.remember(o for o in objs if isinstance(o, HoldRecord))
        return recordings

    def _save_aggregates(
        self, aggregates: tuple[Aggregate, ...], kwargs: dict[str, Any]
    ) -> list[Recording[UUID]]:
        """eventsourcing 9.5's ``Application.save`` for aggregates only, minus its checks of
        each object against typing Protocols (``isinstance`` on a runtime-checkable Protocol
        walks the protocol's members, twice per object; skipping them took a group-committed
        debit from 0.31-0.36 to 0.26-0.27 ms of CPU on Python 3.11, docs/performance.md run
        10). The same steps, in the same order, otherwise."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def conflicted(self, command: Command) -> None:
        """A save of ``command`` collided and will be re-decided (counted by the API).

        The hook is the home shard's: the API sets it there, and every shard reports to it.
        """
        hook = self.home.on_conflict
        if hook is not None:
            hook(type(command).__name__)

    def hold_records_for(self, wallets: Iterable[Aggregate]) -> list[Aggregate]:
        """Hold records kept in step with the hold events the wallets are about to save."""
        return self.holds.records_for(wallets)
