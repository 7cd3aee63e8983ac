"""The writer port: what a service hands a writer, and what a writer needs of a shard's store.

Services decide nothing about how a command is committed: they build a :class:`Job` (one
decision on one wallet) or a ``decide`` function (a server-wide command) and hand it to the
shard's :class:`Writer`. Two writers implement the port: :class:`ledger.app.direct.DirectWriter`
(each caller decides and saves in its own thread) and :class:`ledger.app.committer.Committer`
(one thread decides queued jobs and commits them in batches). Both reach the store only
through :class:`ShardStore`, which :class:`ledger.app.application.LedgerApplication` is, so
neither imports the application (no cycle between the application and its writers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.app.commands import Command
from ledger.app.executor import Decision, Outcome
from ledger.domain.errors import Overloaded
from ledger.domain.ids import receipt_id
from ledger.domain.wallet import Wallet

__all__ = [
    "WAIT_SECONDS",
    "Act",
    "Fence",
    "Job",
    "ShardStore",
    "Writer",
    "settle",
    "timed_out",
]

WAIT_SECONDS = 10.0
"""How long a caller waits for its command's answer before it is told to retry."""

Act = Callable[[Wallet, datetime, "str | None", bool], dict[str, Any]]
"""``act(wallet, at, key_or_none, retrying) -> body``: one command's decision on a wallet."""


class ShardStore(Protocol):
    """One shard's event store, as the writers use it (a ``LedgerApplication``)."""

    max_attempts: int

    @property
    def home(self) -> Any: ...

    @property
    def events(self) -> Any: ...

    @property
    def recorder(self) -> Any: ...

    @property
    def snapshots(self) -> Any: ...

    @property
    def mapper(self) -> Any: ...

    def now(self) -> datetime: ...

    def load_wallet(self, wallet_id: str) -> Wallet: ...

    def replay(self, rid: UUID, key: str, fingerprint: str) -> Outcome | None: ...

    def save(self, *objs: Any, **kwargs: Any) -> Any: ...

    def hold_records_for(self, wallets: Iterable[Aggregate]) -> list[Aggregate]: ...

    def position_of(self, recordings: Iterable[Any]) -> int | None: ...

    def conflicted(self, command: Command) -> None: ...


class Fence(Protocol):
    """A fact outside the wallet that a command stands on — for instance, that the caller's
    API key is still the version the API checked — confirmed just before the command is
    decided. Fences are hashable: equal ones are confirmed once per batch (one store read
    for a batch of commands sent with the same key, instead of one per request).
    """

    def __hash__(self) -> int: ...

    def check(self, ledger: Any) -> None:
        """Raise (the error answers the command, which records nothing) if it does not hold.

        ``ledger`` is the shard's store; its ``home`` holds the server-wide aggregates.
        """


@dataclass
class Job:
    """One command's decision on one wallet, waiting for a writer."""

    wallet_id: str
    key: str
    key_given: bool
    command: Command
    act: Act
    keep_receipt: bool = False
    fence: Fence | None = None
    future: Future[Outcome] = field(default_factory=Future)
    known_rid: InitVar[UUID | None] = None  # receipt_id(wallet_id, key), if already derived

    def __post_init__(self, known_rid: UUID | None) -> None:
        self.rid: UUID = known_rid or receipt_id(self.wallet_id, self.key)
        self.fingerprint = self.command.fingerprint()

    def needs_receipt(self) -> bool:
        return self.key_given or self.keep_receipt


class Writer(Protocol):
    """How one shard's commands are decided and committed."""

    @property
    def wait_seconds(self) -> float: ...

    def submit(self, job: Job) -> Future[Outcome]:
        """Decide and commit ``job``; its future answers it (or raises its refusal)."""

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
        """Decide and save a command that is not one wallet's (see DirectWriter.run)."""

    def close(self) -> None: ...


def timed_out() -> Overloaded:
    # The job may still commit: a retry with the same idempotency key is safe.
    return Overloaded("the ledger did not answer in time; retry with the same key")


def settle(future: Future[Outcome], seconds: float) -> Outcome:
    """Wait (in a thread) for a queued command's outcome; ``overloaded`` after ``seconds``."""
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise timed_out() from None
