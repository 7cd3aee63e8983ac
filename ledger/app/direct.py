"""The direct writer: each caller decides and saves its own command, in its own thread.

Selected by ``LEDGER_GROUP_COMMIT=n``. A command is decided on fresh state (the repository's
cache, fast-forwarded), saved atomically with its receipt, and re-decided on a conflict
within the bounds of ``ledger.app.executor.out_of_attempts`` (as the group-commit writer
does: at least ``max_attempts`` times, then until ``contention_seconds`` have passed, never
more than ``MAX_ATTEMPTS_EVER``); within this process a striped lock serialises the commands
of one scope (a wallet) so that they queue rather than collide. The group-commit writer
(:mod:`ledger.app.committer`) uses :meth:`DirectWriter.run` for server-wide commands too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future

from eventsourcing.persistence import IntegrityError

from ledger.app.commands import Command
from ledger.app.executor import (
    CONTENTION_SECONDS,
    Decision,
    Outcome,
    StripedLocks,
    backoff_seconds,
    out_of_attempts,
)
from ledger.app.ports import WAIT_SECONDS, Job, ShardStore
from ledger.domain.errors import Contention, LedgerError, refuses_input
from ledger.domain.ids import receipt_id
from ledger.domain.records import Receipt

__all__ = ["DirectWriter"]


class DirectWriter:
    """Decide-then-save in the caller's thread, for one shard's store."""

    def __init__(
        self,
        store: ShardStore,
        *,
        wait_seconds: float = WAIT_SECONDS,
        contention_seconds: float = CONTENTION_SECONDS,
    ) -> None:
        self._store = store
        self.contention_seconds = contention_seconds
        self._locks = StripedLocks()
        self._wait_seconds = wait_seconds

    @property
    def wait_seconds(self) -> float:
        return self._wait_seconds

    def submit(self, job: Job) -> Future[Outcome]:
        """Decide and save ``job`` now; the returned future is already done."""
        store = self._store

        def decide(retrying: bool) -> Decision:
            at = store.now()
            wallet = store.load_wallet(job.wallet_id)
            body = job.act(wallet, at, job.key if job.key_given else None, retrying)
            return Decision(body, [wallet] if wallet.pending_events else [], wallet.version)

        done = job.future
        try:
            if job.fence is not None:
                job.fence.check(store)
            done.set_result(
                self.run(
                    scope=job.wallet_id,
                    key=job.key,
                    key_given=job.key_given,
                    command=job.command,
                    decide=decide,
                    keep_receipt=job.keep_receipt,
                )
            )
        except Exception as error:  # raised again by whoever settles the future
            done.set_exception(error)
        return done

    def run(
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
        store = self._store
        rid = receipt_id(scope, key)
        fingerprint = command.fingerprint()
        deadline = time.monotonic() + self.contention_seconds
        attempt = 0
        with self._locks.for_key(scope):
            while not out_of_attempts(attempt, store.max_attempts, deadline):
                if attempt and key_given and (replay := store.replay(rid, key, fingerprint)):
                    return replay
                try:
                    decision = decide(attempt > 0)
                except LedgerError as refusal:
                    # Bad input is refused as such, whatever the key did before; a refusal
                    # that depends on state yields to the key's earlier result.
                    if (
                        not refuses_input(refusal)
                        and key_given
                        and (replay := store.replay(rid, key, fingerprint))
                    ):
                        return replay
                    raise
                if not decision.aggregates and not (receipt_when_unchanged and key_given):
                    return Outcome(decision.body)
                aggregates = [*decision.aggregates, *store.hold_records_for(decision.aggregates)]
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
                    recordings = store.save(*aggregates)
                except IntegrityError:
                    # A repeated key collides on its receipt: that is a replay, not contention.
                    if key_given and (replay := store.replay(rid, key, fingerprint)):
                        return replay
                    store.conflicted(command)
                    time.sleep(backoff_seconds(attempt))
                    attempt += 1
                    continue
                return Outcome(
                    decision.body, replayed=False, position=store.position_of(recordings)
                )
        raise Contention(scope or "(server)", attempt)

    def close(self) -> None:
        """Nothing runs in the background."""
