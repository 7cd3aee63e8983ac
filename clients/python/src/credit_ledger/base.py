"""What the synchronous and asynchronous clients share: settings, answer checking, the
read-your-writes position, and the availability policy's decisions (defer, replay).

The clients themselves (``client.py``, ``aio.py``) only do I/O around these.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, Never

import httpx
from typing_extensions import TypeVar

from credit_ledger.calls import Answer, Call, decode_as, segment
from credit_ledger.errors import (
    Forbidden,
    HoldNotOpen,
    LedgerError,
    Unauthenticated,
    Unavailable,
)
from credit_ledger.journal import DEFAULT_MAX_ENTRIES, Journal, JournalEntry
from credit_ledger.models import Debit, Deferred, Hold
from credit_ledger.problems import JournalFull, ProjectionLagging, RateLimited, error_from_problem
from credit_ledger.retry import RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientCommon",
    "D",
    "OnUnavailable",
    "ReplayAction",
    "ReplayReport",
    "Settings",
    "expired_hold_debit",
    "replay_action",
]

T = TypeVar("T")
D = TypeVar("D", default=Never)
"""What a spending call answers when the ledger cannot decide: nothing (``Never``) for a
closed client, :class:`~credit_ledger.Deferred` for an open one."""
OnUnavailable = Literal["closed", "open"]
ReplayAction = Literal["settle", "reject", "stop", "debit_instead"]
DEFAULT_TIMEOUT = 10.0

try:
    _VERSION = version("credit-ledger-client")
except PackageNotFoundError:  # pragma: no cover - run from a source tree
    _VERSION = "0"


class ReplayReport:
    """What one replay of the journal did."""

    __slots__ = ("rejected", "remaining", "settled")

    def __init__(self) -> None:
        self.settled = 0
        self.rejected = 0
        self.remaining = 0

    def count(self, action: ReplayAction) -> None:
        if action == "settle":
            self.settled += 1
        else:
            self.rejected += 1

    def __repr__(self) -> str:
        return (
            f"ReplayReport(settled={self.settled}, rejected={self.rejected}, "
            f"remaining={self.remaining})"
        )


class Settings:
    """Everything a client is configured with, checked once."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout,
        retries: int | RetryPolicy,
        on_unavailable: OnUnavailable,
        journal_path: str | os.PathLike[str] | None,
        journal_max_entries: int,
    ) -> None:
        if on_unavailable not in ("closed", "open"):
            raise ValueError(f"on_unavailable must be 'closed' or 'open', not {on_unavailable!r}")
        if on_unavailable == "open" and journal_path is None:
            raise ValueError('on_unavailable="open" needs a journal_path to keep deferred calls')
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries)
        self.on_unavailable = on_unavailable
        self.journal = (
            None
            if journal_path is None
            else Journal(journal_path, max_entries=journal_max_entries or DEFAULT_MAX_ENTRIES)
        )
        self._position = 0
        self._position_lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"credit-ledger-client/{_VERSION}",
        }

    @property
    def last_position(self) -> int:
        """The highest ``Ledger-Position`` seen: pass it as ``min_position`` to read your
        own writes from the read models (0 before any command)."""
        return self._position

    def result(self, call: Call[T], answer: Answer) -> T:
        """The decoded answer, after noting its position; raises the problem of an error."""
        position = answer.position()
        if position is not None and position > self._position:
            with self._position_lock:
                self._position = max(self._position, position)
        if answer.status >= 400:
            raise error_from_problem(answer.status, answer.json(), answer.text())
        return call.decode(answer)

    def prepare_spend(self, call: Call[T]) -> Call[T]:
        """Under the open policy a debit carries its time, so that a replay hours later is
        the same request (same key, same body) and is dated when the usage happened."""
        if (
            self.on_unavailable == "open"
            and call.batch_op == "debit"
            and "occurred_at" not in (call.body or {})
        ):
            return call.with_body(occurred_at=datetime.now(UTC))
        return call

    def defer(self, call: Call[Any], error: LedgerError) -> Deferred:
        """The Deferred answer for a spending call the ledger did not decide.

        Raises:
            LedgerError: ``error`` itself, when the policy is closed, the error is not about
                availability, or the journal is full.
        """
        journal = self.journal
        if not deferrable(error) or self.on_unavailable != "open" or journal is None:
            raise error
        operation = call.batch_op or "debit"
        body = call.body or {}
        # A deferred hold is allowed only while its capture (a debit then) has room too.
        full = len(journal) >= journal.max_entries
        if full if operation == "hold" else not journal.add(call, operation):
            error.add_note(f"the local journal is full ({journal.max_entries} entries)")
            raise error
        # A deferred hold reserves nothing: its capture is journaled as a debit instead.
        return Deferred(
            operation=operation,
            wallet_id=call.wallet_id or "",
            idempotency_key=call.idempotency_key or "",
            amount=body.get("amount"),
            reason=error.detail or error.title,
        )

    def journal_call(self, call: Call[Any], operation: str) -> Deferred:
        """Journal ``call`` without trying it (the capture of a deferred hold).

        Raises:
            JournalFull: There is no room left.
        """
        journal = self.journal
        if journal is None:  # only open clients make deferred holds
            raise RuntimeError("no journal: the client is not open on unavailability")
        if not journal.add(call, operation):
            raise JournalFull.make(len(journal))
        body = call.body or {}
        return Deferred(
            operation=operation,
            wallet_id=call.wallet_id or "",
            idempotency_key=call.idempotency_key or "",
            amount=body.get("amount"),
            reason="the hold was deferred",
        )


def deferrable(error: LedgerError) -> bool:
    """The ledger did not decide for lack of availability (not a rate limit, which the
    service is deliberately enforcing, and not a read model lagging)."""
    return isinstance(error, Unavailable) and not isinstance(error, RateLimited | ProjectionLagging)


def replay_action(entry: JournalEntry, answer: Answer) -> ReplayAction:
    """What to do with a journal entry after its replay answered ``answer``."""
    if answer.status < 400:
        return "settle"
    error = error_from_problem(answer.status, answer.json(), answer.text())
    if isinstance(error, Unavailable | Unauthenticated | Forbidden):
        return "stop"  # not a decision: try again later, with the entry still pending
    if isinstance(error, HoldNotOpen):
        if entry.operation == "release":
            return "settle"  # the hold is closed either way; nothing is held any more
        if entry.operation == "capture" and error.hold_status == "expired":
            return "debit_instead"
    return "reject"


def expired_hold_debit(entry: JournalEntry, hold: Hold) -> Call[Debit]:
    """A deferred capture whose hold expired meanwhile, as a debit of what it would have
    captured, dated when it was allowed. Its key is derived from the capture's, so a
    repeated replay is the same debit."""
    body = dict(entry.body or {})
    spent = {k: body[k] for k in ("amount", "usage") if body.get(k) is not None}
    debit_body = {
        **(spent or {"amount": hold.amount}),
        "subject": dict(hold.subject),
        "occurred_at": entry.recorded_at,
        "metadata": {**hold.metadata, "deferred_capture_of": hold.hold_id},
    }
    wallet_id = entry.wallet_id or ""
    return Call(
        "POST",
        f"/v1/wallets/{segment(wallet_id)}/debits",
        decode_as(Debit),
        body=debit_body,
        idempotency_key=f"{entry.key}:debit",
        wallet_id=wallet_id,
        batch_op="debit",
    )


class ClientCommon:
    """What both clients answer without I/O."""

    _settings: Settings

    @property
    def last_position(self) -> int:
        """The highest ``Ledger-Position`` answered so far: pass it as ``min_position`` to
        read your own writes from the read models (0 before any command)."""
        return self._settings.last_position

    @property
    def pending_journal(self) -> list[JournalEntry]:
        """Deferred calls not replayed yet (empty unless ``on_unavailable="open"``)."""
        journal = self._settings.journal
        return [] if journal is None else journal.pending()

    def rejected_journal(self) -> list[dict[str, Any]]:
        """Deferred calls the ledger refused on replay, each with its problem document."""
        journal = self._settings.journal
        return [] if journal is None else journal.rejected()
