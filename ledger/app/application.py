"""CreditLedger: the application service on eventsourcing (the only ledger module that
imports ``eventsourcing.application``). Postgres, SQLite or in-memory by settings.

Every command runs through :meth:`CreditLedger._run` (see ``ledger.app.executor``); reads are in
``ledger.app.reads``. Time comes from an injected clock, so tests control it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Self, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    IntegrityError,
    InternalError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
    Recording,
    Transcoding,
)
from eventsourcing.utils import strtobool

from ledger.app.commands import Command
from ledger.app.committer import Committer
from ledger.app.executor import Decision, Outcome, StripedLocks, backoff_seconds
from ledger.app.shards import (
    MAX_SHARDS,
    ShardEnvironment,
    encode_position,
    on_wallet_shard,
    shard_name,
    shard_of,
    sqlite_shard_path,
)
from ledger.app.snapshots import Snapshotter
from ledger.domain.errors import (
    Contention,
    IdempotencyConflict,
    LedgerError,
    Overloaded,
    WalletNotFound,
    refuses_input,
)
from ledger.domain.events import HOLD_CLOSED_AS, HoldCaptured, HoldExpired, HoldPlaced, HoldReleased
from ledger.domain.ids import hold_record_id, receipt_id, wallet_uuid
from ledger.domain.records import HoldRecord, PlacedHolds, Receipt
from ledger.domain.state import Budget, Grant, Hold
from ledger.domain.wallet import Wallet
from ledger.store.env import store_env
from ledger.store.shard_map import ShardCountMismatch, check_shard_count

__all__ = ["CreditLedgerBase", "utc_now"]

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


class CreditLedgerBase(Application[UUID]):
    name = "Ledger"
    snapshot_class = Snapshot
    is_snapshotting_enabled = True
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = MAX_ATTEMPTS,
        on_conflict: Callable[[str], None] | None = None,
        group_commit: bool | None = None,
        shard_index: int = 0,
    ) -> None:
        # Shard k > 0 has its own tables (ledger_s<k>_*); see ledger.app.shards. Set before the
        # infrastructure is built, because construct_env names the tables.
        self.shard_index = shard_index
        self.shards: list[CreditLedgerBase] = [self]
        self.home: CreditLedgerBase = self
        self._construct(dict(env or {}))
        if group_commit is None:  # LEDGER_GROUP_COMMIT (or GROUP_COMMIT); on unless "n"
            group_commit = strtobool(self.env.get("GROUP_COMMIT", "y"))
        self.clock = clock
        self.max_attempts = max_attempts
        # Told the command's class name each time a save collides and is re-decided
        # (the API counts these as contention retries; the domain knows no metrics library).
        self.on_conflict = on_conflict
        self._locks = StripedLocks()
        self._placed = PlacedHolds()
        # With group commit, one thread per ledger decides and commits wallet commands in
        # batches (ledger.app.committer); without, each caller runs its own decide-save loop.
        self.committer: Committer | None = Committer(self) if group_commit else None
        # LEDGER_SNAPSHOT_INTERVAL (or SNAPSHOT_INTERVAL): versions between wallet snapshots.
        interval = int(self.env.get("SNAPSHOT_INTERVAL", str(SNAPSHOT_INTERVAL)))
        self.snapshotter = Snapshotter(self._snapshot, interval=interval)
        if shard_index == 0:
            self._open_shards(dict(env or {}), clock, max_attempts, on_conflict, group_commit)

    def _open_shards(
        self,
        env: dict[str, str],
        clock: Callable[[], datetime],
        max_attempts: int,
        on_conflict: Callable[[str], None] | None,
        group_commit: bool,
    ) -> None:
        """Open shards 1..n-1 beside this home shard (n from the store's shard map)."""
        wanted = self.env.get("SHARDS")
        try:
            count, new = check_shard_count(self, int(wanted) if wanted else None, MAX_SHARDS)
        except BaseException:
            self.close()
            raise
        for index in range(1, count):
            try:
                shard = type(self)(
                    env,
                    clock=clock,
                    max_attempts=max_attempts,
                    on_conflict=on_conflict,
                    group_commit=group_commit,
                    shard_index=index,
                )
            except BaseException:
                self.close()
                raise
            shard.home = self
            shard.shards = self.shards
            self.shards.append(shard)
            if new and shard.recorder.select_notifications(start=1, limit=1):
                self.close()  # tables of another store: its wallets would be found here
                raise ShardCountMismatch(f"shard {index} of a new store already holds events")

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
        return ShardEnvironment(own, settings, base=name)

    def shard_for(self, wallet_id: str) -> Self:
        """The shard (ledger application) that holds ``wallet_id``."""
        shards = self.home.shards
        return cast("Self", shards[shard_of(wallet_id, len(shards))])

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
            if self.committer is not None:
                self.committer.close()
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

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        group_commit: bool | None = None,
        **env: str,
    ) -> Self:
        return cls({**store_env(url), **env}, clock=clock, group_commit=group_commit)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_DataclassAsDict(Grant, "ledger_grant"))
        transcoder.register(_DataclassAsDict(Hold, "ledger_hold"))
        transcoder.register(_DataclassAsDict(Budget, "ledger_budget"))

    @staticmethod
    def key_of(command: Command) -> tuple[str, bool]:
        """The command's idempotency key, or a fresh one the server makes (and says so)."""
        if command.idempotency_key is not None:
            return command.idempotency_key, True
        return f"auto/{uuid4()}", False

    def now(self) -> datetime:
        at = self.clock()
        if at.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return at.astimezone(UTC)

    # -- loading ----------------------------------------------------------------------------

    @on_wallet_shard
    def load_wallet(self, wallet_id: str) -> Wallet:
        try:
            wallet: Wallet = self.repository.get(wallet_uuid(wallet_id))
        except AggregateNotFoundError:
            raise WalletNotFound(wallet_id) from None
        return wallet

    def find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # -- the write loop ---------------------------------------------------------------------

    def _run(
        self,
        *,
        scope: str,
        key: str,
        key_given: bool,
        command: Command,
        decide: Callable[[bool], Decision],
        keep_receipt: bool = False,
        receipt_when_unchanged: bool = False,
    ) -> Outcome:
        """Decide and save ``command`` atomically with its receipt; replay a repeated key.

        ``key`` is the client's idempotency key (``key_given``) or one the server made.
        ``keep_receipt`` records a receipt even without a client key (a debit's receipt is
        its record). ``receipt_when_unchanged`` records the client's key even when the
        decision changes nothing (a price book PUT equal to the current version), so the key
        keeps answering that result. ``decide(retrying)`` gets True after a conflict.
        """
        rid = receipt_id(scope, key)
        fingerprint = command.fingerprint()
        with self._locks.for_key(scope):
            for attempt in range(self.max_attempts):
                if attempt and key_given and (replay := self.replay(rid, key, fingerprint)):
                    return replay
                try:
                    decision = decide(attempt > 0)
                except LedgerError as refusal:
                    # Bad input is refused as such, whatever the key did before; a refusal
                    # that depends on state yields to the key's earlier result.
                    if (
                        not refuses_input(refusal)
                        and key_given
                        and (replay := self.replay(rid, key, fingerprint))
                    ):
                        return replay
                    raise
                if not decision.aggregates and not (receipt_when_unchanged and key_given):
                    return Outcome(decision.body)
                aggregates = [*decision.aggregates, *self.hold_records_for(decision.aggregates)]
                if key_given or keep_receipt:
                    aggregates.append(
                        Receipt.record(
                            receipt_id=rid,
                            scope=scope,
                            key=key,
                            operation=type(command).__name__,
                            fingerprint=fingerprint,
                            result=decision.body,
                            wallet_version=decision.wallet_version,
                        )
                    )
                try:
                    recordings = self.save(*aggregates)
                except IntegrityError:
                    # A repeated key collides on its receipt: that is a replay, not contention.
                    if key_given and (replay := self.replay(rid, key, fingerprint)):
                        return replay
                    self.conflicted(command)
                    time.sleep(backoff_seconds(attempt))
                    continue
                return Outcome(decision.body, replayed=False, position=self.position_of(recordings))
        raise Contention(scope or "(server)", self.max_attempts)

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
        self._placed.remember(o for o in objs if isinstance(o, HoldRecord))
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
        records: dict[UUID, HoldRecord] = {}
        for wallet in wallets:
            if not isinstance(wallet, Wallet):
                continue
            for event in wallet.pending_events:
                self._track_hold(wallet, event, records)
        return list(records.values())

    def _track_hold(self, wallet: Wallet, event: object, records: dict[UUID, HoldRecord]) -> None:
        if isinstance(event, HoldPlaced):
            view = {k: v for k, v in vars(event).items() if k in _HOLD_VIEW_KEYS}
            view.update(placed_at=event.occurred_at, status="open")
            record = HoldRecord.place(wallet_id=wallet.wallet_id, view=view)
            records[record.id] = record
            return
        if not isinstance(event, HoldCaptured | HoldReleased | HoldExpired):
            return
        record_id = hold_record_id(wallet.wallet_id, event.hold_id)
        found = records.get(record_id) or self._placed.take(record_id) or self.find(record_id)
        if found is None:
            raise AssertionError(f"hold {event.hold_id} has no record")
        released = sum(a["amount"] for a in event.released_allocations)
        captured, overage = 0, 0
        if isinstance(event, HoldCaptured):
            captured, overage = event.captured, event.overage
        found.close(
            status=HOLD_CLOSED_AS[type(event)],
            closed_at=event.occurred_at,
            captured=captured,
            released=released,
            overage=overage,
        )
        records[record_id] = found


_HOLD_VIEW_KEYS = frozenset(
    {"hold_id", "amount", "allocations", "subject", "expires_at", "metadata"}
)
