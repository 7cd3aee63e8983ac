"""Group commit: one thread per ledger decides queued commands and commits them in batches.

Callers put a :class:`Job` on a bounded queue and wait for its future (a thread blocks on
it, an event loop awaits it). The committer takes every job waiting (up to ``max_batch``),
confirms each distinct fence once, decides each against its cache of wallets (no store
read when cached) and saves the batch's events, hold records and receipts in ONE
transaction. The store's ``(id, version)`` keys still decide: when another process wrote
first, the jobs on the wallets it changed are decided again on fresh state, within the
bounds of ``ledger.app.executor.out_of_attempts``, then answer ``contention``.
Put a limit on everything: the queue, batches, waits and retries are bounded (a full queue
answers ``overloaded`` at once).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.app.batching import Decided, WalletCache
from ledger.app.direct import DirectWriter
from ledger.app.executor import (
    CONTENTION_SECONDS,
    Outcome,
    backoff_seconds,
    out_of_attempts,
)
from ledger.app.guards import GuardFailed, Guarding
from ledger.app.ports import WAIT_SECONDS, Fence, Job, ShardStore
from ledger.domain.errors import Contention, LedgerError, Overloaded, refuses_input
from ledger.domain.ids import wallet_uuid
from ledger.domain.records import Receipt
from ledger.domain.wallet import Wallet

__all__ = ["Committer"]

log = logging.getLogger(__name__)


class Committer:
    """The group-commit writer of one shard's store: the single writer of its wallets in this
    process. Server-wide commands (``run``) take the direct path: they are rare and touch no
    wallet the batches cache."""

    def __init__(
        self,
        app: ShardStore,
        *,
        max_batch: int = 256,
        queue_size: int = 4096,
        wait_seconds: float = WAIT_SECONDS,
        cache_size: int = 100_000,
        contention_seconds: float = CONTENTION_SECONDS,
    ) -> None:
        self._app = app
        self.contention_seconds = contention_seconds
        self._direct = DirectWriter(app, wait_seconds=wait_seconds)
        # ``None`` is the close sentinel: the writer blocks on the queue instead of polling.
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=queue_size)
        self._max_batch = max_batch
        self._wait_seconds = wait_seconds
        self._cache = WalletCache(cache_size)
        self._stop = threading.Event()
        self._base: dict[str, int] = {}
        self._pending: list[tuple[Aggregate, list[Any]]] = []
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._gate = threading.Lock()
        self._held = 0
        self._guarding = Guarding()  # fences confirmed in the commit (ledger.app.guards)

    # -- callers ----------------------------------------------------------------------------

    @property
    def wait_seconds(self) -> float:
        return self._wait_seconds

    def run(self, **command: Any) -> Outcome:
        """A server-wide command (the ``Writer.run`` keywords): decided and saved by the
        caller, on the direct path (``DirectWriter.run``)."""
        return self._direct.run(**command)

    def submit(self, job: Job) -> Future[Outcome]:
        """Queue ``job`` without blocking; its future answers it (or raises its refusal).

        Raises:
            Overloaded: The queue is full or the ledger is closing.
        """
        if self._stop.is_set():
            raise Overloaded("the ledger is closing; retry shortly")
        self._ensure_started()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise Overloaded("the write queue is full; retry shortly") from None
        return job.future

    def close(self) -> None:
        self._stop.set()
        if self._thread is None:
            return
        # a full queue: the writer is busy and sees the stop flag between batches
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=5)
        self._refuse_queued()

    def _refuse_queued(self) -> None:
        """Answer jobs still queued at close: the ledger is going away, retry elsewhere."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None and not job.future.done():
                job.future.set_exception(Overloaded("the ledger is closing; retry shortly"))

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="ledger-committer", daemon=True
                )
                self._thread.start()

    # -- the committer thread ---------------------------------------------------------------

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the writer: jobs queue up meanwhile and are then decided as one batch."""
        self._ensure_started()
        with self._gate:
            yield

    def queued(self) -> int:
        """Jobs not yet being decided: queued, or taken and waiting at a paused gate."""
        return self._queue.qsize() + self._held

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Block (no polling) for the first job, outside the gate, so that ``paused()``
            # can hold the writer while jobs queue up behind it.
            first = self._queue.get()
            if first is None:
                return
            self._held = 1
            with self._gate:
                self._held = 0
                batch, closing = self._take(first)
                self._run_batch(batch)
            if closing:
                return

    def _take(self, first: Job) -> tuple[list[Job], bool]:
        """``first`` and every job waiting behind it (bounded); True if close was asked."""
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run_batch(self, batch: list[Job]) -> None:
        try:
            self._process(batch)
        except Exception as error:  # never let one batch kill the writer
            log.exception("committer batch failed")
            self._cache.clear()
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)

    def _process(self, jobs: list[Job]) -> None:
        self._guarding.fences_first = False
        deadline = time.monotonic() + self.contention_seconds
        attempt = 0
        while waiting := [job for job in jobs if not job.future.done()]:
            if out_of_attempts(attempt, self._app.max_attempts, deadline):
                for job in waiting:
                    job.future.set_exception(Contention(job.wallet_id, attempt))
                return
            if attempt:
                time.sleep(backoff_seconds(attempt))
            self._decide_and_commit(waiting, retrying=attempt > 0)
            attempt += 1

    def _decide_and_commit(self, jobs: list[Job], *, retrying: bool) -> None:
        self._guarding.new_round()
        try:
            self._decide_all(jobs, retrying=retrying)
        finally:
            self._guarding.release(self._app)

    def _decide_all(self, jobs: list[Job], *, retrying: bool) -> None:
        touched: dict[str, Wallet] = {}
        self._base.clear()
        self._cache.new_batch(self._app, (job.wallet_id for job in jobs))
        decided: list[Decided] = []
        keys_in_batch: set[UUID] = set()
        standing: set[Fence] = set()
        for job in jobs:
            if job.rid in keys_in_batch:
                continue  # the same key twice in one batch: the second replays next round
            if job.fence is not None and not self._stands(job, job.fence, standing):
                continue
            try:
                self._decide_one(job, retrying, touched, decided)
            except Exception as error:  # a bug in one command must not corrupt the others
                log.exception("deciding %s failed", type(job.command).__name__)
                job.future.set_exception(error)
                self._cache.evict(touched)
                return
            if decided and decided[-1].job is job and decided[-1].receipt is not None:
                keys_in_batch.add(job.rid)
        self._commit(touched, decided)

    def _decide_one(
        self, job: Job, retrying: bool, touched: dict[str, Wallet], decided: list[Decided]
    ) -> None:
        if retrying and job.key_given and self._replayed(job):
            return
        try:
            current = touched.get(job.wallet_id) or self._cache.get(job.wallet_id, self._app)
            touched[job.wallet_id] = current
            self._base.setdefault(job.wallet_id, current.version - len(current.pending_events))
            at = self._app.now()
            # A refused command records nothing, not even the expiries it would have recorded
            # first; so when expiries are due, decide on a copy and keep it only on success.
            wallet = copy.deepcopy(current) if current.has_due(at) else current
            before = len(wallet.pending_events)
            body = job.act(wallet, at, job.key if job.key_given else None, retrying)
            touched[job.wallet_id] = wallet
        except LedgerError as refusal:
            if refuses_input(refusal):  # bad input: refused at once, whatever the key did
                job.future.set_exception(refusal)
                return
            if not (job.key_given and self._replayed(job)):
                decided.append(Decided(job, {}, None, refusal))
            return
        if len(wallet.pending_events) == before:
            job.future.set_result(Outcome(body))
            return
        receipt = None
        if job.needs_receipt():
            receipt = Receipt.record(
                receipt_id=job.rid,
                scope=job.wallet_id,
                key=job.key,
                operation=type(job.command).__name__,
                fingerprint=job.fingerprint,
                result=body,
                wallet_version=wallet.version,
            )
        decided.append(Decided(job, body, receipt))

    def _stands(self, job: Job, fence: Fence, standing: set[Fence]) -> bool:
        """Confirm ``job``'s fence (once per batch); a fence that fails answers the job. A
        fence the commit can check (a guard) is not read: the job's answer waits for it."""
        if fence in standing or self._guarding.take(job, self._app):
            return True
        try:
            fence.check(self._app)
        except Exception as error:  # the fence's own error answers (e.g. unauthenticated)
            job.future.set_exception(error)
            return False
        standing.add(fence)
        return True

    def _replayed(self, job: Job) -> bool:
        """Answer ``job`` from its stored receipt if it has one (or with its key conflict)."""
        try:
            replay = self._app.replay(job.rid, job.key, job.fingerprint)
        except LedgerError as conflict:
            job.future.set_exception(conflict)
            return True
        if replay is None:
            return False
        job.future.set_result(replay)
        return True

    def _commit(self, touched: dict[str, Wallet], decided: list[Decided]) -> None:
        written = {wallet_id for wallet_id, w in touched.items() if w.pending_events}
        try:
            recordings = self._save(touched, decided)
        except IntegrityError:
            recordings = self._after_conflict(touched, decided)
        except GuardFailed:  # nothing saved, nothing answered: decided again, fences first
            self._guarding.failed()
            self._cache.evict(touched)
            return
        except Exception as error:
            self._cache.evict(touched)
            for d in decided:
                d.job.future.set_exception(error)
            return
        position = None
        if recordings is not None:
            position = self._app.position_of(recordings)
            for wallet_id, wallet in touched.items():
                self._cache.remember(wallet_id, wallet)
        for d in decided:  # empty when everything must be decided again
            if d.refusal is not None and self._stale_refusal(d.job.wallet_id, written):
                self._cache.evict([d.job.wallet_id])
                continue  # left unanswered: decided again, on fresh state, next round
            d.answer(position)

    def _stale_refusal(self, wallet_id: str, written: set[str]) -> bool:
        """Was a refusal decided on a cached wallet that another process has changed?

        A wallet this batch wrote was proven fresh by the save's version check; one it only
        read from the cache was not, so ask the store (refusals only: the rare path).
        """
        return (
            wallet_id not in written
            and self._cache.was_cached(wallet_id)
            and self._moved(wallet_id)
        )

    def _save(self, touched: dict[str, Wallet], decided: list[Decided]) -> list[Any] | None:
        """Save the batch in one transaction; the pending events are kept for a retry."""
        wallets = [wallet for wallet in touched.values() if wallet.pending_events]
        if not wallets:
            return None
        aggregates: list[Aggregate] = [*wallets, *self._app.hold_records_for(wallets)]
        aggregates += [d.receipt for d in decided if d.receipt is not None]
        self._pending = [(a, list(a.pending_events)) for a in aggregates]
        recordings: list[Any] = self._app.save(*aggregates, **self._guarding.save_kwargs())
        self._guarding.committed = bool(self._guarding.guards)
        return recordings

    def _after_conflict(
        self, touched: dict[str, Wallet], decided: list[Decided]
    ) -> list[Any] | None:
        """Re-decide only what must be: commands on wallets someone else changed.

        The other wallets' decisions still hold (their stored version has not moved), so they
        are saved again as decided; if the conflict was elsewhere (a key or hold id used by
        another process), everything is decided again.
        """
        for d in decided:
            self._app.conflicted(d.job.command)
        stale = {wallet_id for wallet_id in touched if self._moved(wallet_id)}
        if not stale or stale == set(touched):
            self._cache.evict(touched)
            decided.clear()
            return None
        for aggregate, events in self._pending:
            owner = getattr(aggregate, "wallet_id", None) or getattr(aggregate, "scope", None)
            if owner not in stale:
                aggregate.pending_events.extend(events)
        self._cache.evict({wallet_id: touched.pop(wallet_id) for wallet_id in stale})
        decided[:] = [d for d in decided if d.job.wallet_id not in stale]
        try:
            return self._save(touched, decided)
        except (IntegrityError, GuardFailed) as error:
            if isinstance(error, GuardFailed):
                self._guarding.failed()
            self._cache.evict(touched)
            decided.clear()
            return None

    def _moved(self, wallet_id: str) -> bool:
        """Has the stored wallet gained events since this batch read it?"""
        newer = self._app.events.get(wallet_uuid(wallet_id), gt=self._base[wallet_id], limit=1)
        return next(iter(newer), None) is not None
