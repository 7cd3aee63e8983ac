"""The synchronous client, :class:`Ledger` (thread-safe: share one per process)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Literal, Never, Self, TypeVar, overload

import httpx

from credit_ledger import ops_admin, ops_reports, ops_spending, ops_wallets
from credit_ledger.base import (
    DEFAULT_TIMEOUT,
    ClientCommon,
    D,
    OnUnavailable,
    ReplayAction,
    ReplayReport,
    Settings,
    expired_hold_debit,
    replay_action,
)
from credit_ledger.batching import SyncBatcher, check_batching
from credit_ledger.binding import op, spend
from credit_ledger.calls import Answer, Call, raw_call
from credit_ledger.errors import LedgerError, Unavailable
from credit_ledger.holds import HoldScope
from credit_ledger.journal import DEFAULT_MAX_ENTRIES, JournalEntry
from credit_ledger.lists import ListIterators
from credit_ledger.models import Deferred
from credit_ledger.retry import Attempts, RetryPolicy
from credit_ledger.usage import Subject, Usage

__all__ = ["Ledger"]

T = TypeVar("T")
log = logging.getLogger("credit_ledger")
_sleep = time.sleep  # a module attribute, so tests can watch the delays


class Ledger(ClientCommon, ListIterators, Generic[D]):
    """A client of the credit ledger's HTTP API.

    Every state-changing call carries an ``Idempotency-Key`` (made here unless given), and
    its retries carry the same one. ``retries`` bounds them (an int, or a
    :class:`~credit_ledger.RetryPolicy`). ``on_unavailable="open"`` lets spending calls
    through while the ledger cannot decide, journaled in ``journal_path`` and replayed
    later; ``batch_window`` (seconds, at most 0.002) sends concurrent spending calls as one
    ``POST /v1/batch``. ``transport`` replaces the network (``httpx.MockTransport`` in tests).
    """

    @overload
    def __init__(
        self: Ledger[Never],
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = ...,
        retries: int | RetryPolicy = ...,
        on_unavailable: Literal["closed"] = ...,
        journal_path: str | os.PathLike[str] | None = ...,
        journal_max_entries: int = ...,
        batch_window: float | None = ...,
        batch_max_size: int = ...,
        transport: httpx.BaseTransport | None = ...,
    ) -> None: ...
    @overload
    def __init__(
        self: Ledger[Deferred],
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = ...,
        retries: int | RetryPolicy = ...,
        on_unavailable: Literal["open"],
        journal_path: str | os.PathLike[str],
        journal_max_entries: int = ...,
        batch_window: float | None = ...,
        batch_max_size: int = ...,
        transport: httpx.BaseTransport | None = ...,
    ) -> None: ...
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int | RetryPolicy = 3,
        on_unavailable: OnUnavailable = "closed",
        journal_path: str | os.PathLike[str] | None = None,
        journal_max_entries: int = DEFAULT_MAX_ENTRIES,
        batch_window: float | None = None,
        batch_max_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_window is not None:  # before the journal is opened (and locked)
            check_batching(batch_window, batch_max_size)
        self._settings = Settings(
            base_url,
            api_key,
            timeout=timeout,
            retries=retries,
            on_unavailable=on_unavailable,
            journal_path=journal_path,
            journal_max_entries=journal_max_entries,
        )
        self._http = httpx.Client(
            base_url=self._settings.base_url,
            headers=self._settings.headers(),
            timeout=timeout,
            transport=transport,
        )
        self._batcher = (
            None
            if batch_window is None
            else SyncBatcher(self._send_once, batch_window, batch_max_size)
        )
        self._replay_lock = threading.Lock()
        self._replayer: threading.Thread | None = None

    # --- wallets, grants, budgets, allowances, alert settings -------------------------
    open_wallet = op(ops_wallets.open_wallet)
    get_wallet = op(ops_wallets.get_wallet)
    wallet_events = op(ops_wallets.wallet_events)
    list_wallets = op(ops_wallets.list_wallets)
    grant = op(ops_wallets.grant)
    void_grant = op(ops_wallets.void_grant)
    set_budget = op(ops_wallets.set_budget)
    list_budgets = op(ops_wallets.list_budgets)
    get_budget = op(ops_wallets.get_budget)
    delete_budget = op(ops_wallets.delete_budget)
    put_allowance = op(ops_wallets.put_allowance)
    list_allowances = op(ops_wallets.list_allowances)
    get_allowance = op(ops_wallets.get_allowance)
    delete_allowance = op(ops_wallets.delete_allowance)
    put_alert_settings = op(ops_wallets.put_alert_settings)
    get_alert_settings = op(ops_wallets.get_alert_settings)
    # --- spending ---------------------------------------------------------------------
    debit = spend(ops_spending.debit)
    refund = op(ops_spending.refund)
    list_debits = op(ops_spending.list_debits)
    get_debit = op(ops_spending.get_debit)
    place_hold = spend(ops_spending.place_hold)
    capture_hold = spend(ops_spending.capture_hold)
    release_hold = spend(ops_spending.release_hold)
    get_hold = op(ops_spending.get_hold)
    list_holds = op(ops_spending.list_holds)
    batch = op(ops_spending.batch)
    # --- audit, usage, rating, metering -----------------------------------------------
    get_journal = op(ops_reports.get_journal)
    journal_csv = op(ops_reports.journal_csv)
    trial_balance = op(ops_reports.trial_balance)
    get_usage = op(ops_reports.get_usage)
    usage_csv = op(ops_reports.usage_csv)
    put_price_book = op(ops_reports.put_price_book)
    get_price_book = op(ops_reports.get_price_book)
    list_price_books = op(ops_reports.list_price_books)
    ingest_usage_events = op(ops_reports.ingest_usage_events)
    put_meter = op(ops_reports.put_meter)
    get_meter = op(ops_reports.get_meter)
    list_meters = op(ops_reports.list_meters)
    meter_series = op(ops_reports.meter_series)
    # --- administration and operations ------------------------------------------------
    create_api_key = op(ops_admin.create_api_key)
    revoke_api_key = op(ops_admin.revoke_api_key)
    list_api_keys = op(ops_admin.list_api_keys)
    whoami = op(ops_admin.whoami)
    put_webhook = op(ops_admin.put_webhook)
    get_webhook = op(ops_admin.get_webhook)
    delete_webhook = op(ops_admin.delete_webhook)
    list_webhooks = op(ops_admin.list_webhooks)
    webhook_deliveries = op(ops_admin.webhook_deliveries)
    list_projections = op(ops_admin.list_projections)
    rebuild_projection = op(ops_admin.rebuild_projection)
    health = op(ops_admin.health)
    ready = op(ops_admin.ready)
    metrics = op(ops_admin.metrics)

    def hold(
        self,
        wallet_id: str,
        amount: int | None = None,
        *,
        usage: Usage | None = None,
        subject: Subject | None = None,
        hold_id: str | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> HoldScope[D]:
        """A hold as a context manager: placed on entering ``with``, captured inside with
        ``h.capture(...)``, released on leaving otherwise (see :mod:`credit_ledger.holds`)."""
        place = ops_spending.place_hold(
            wallet_id,
            amount,
            usage=usage,
            subject=subject,
            hold_id=hold_id,
            expires_at=expires_at,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
        return HoldScope(self, place)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any route, for what this version has no method for; answers the decoded JSON.

        No key is made here: a POST, PUT or DELETE without ``idempotency_key`` is sent once
        and never retried, since repeating it could decide twice.
        """
        return self._perform(raw_call(method, path, params, json, idempotency_key))

    # --- plumbing ---------------------------------------------------------------------
    def _send_once(self, call: Call[Any]) -> Answer:
        headers = call.headers()
        content = call.content()
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = self._http.request(
            call.method, call.path, params=call.params, content=content, headers=headers
        )
        return Answer(response.status_code, response.headers, response.content)

    def _exchange(self, call: Call[Any]) -> Answer:
        """The call's answer, after the retries the policy allows."""
        attempts = Attempts(self._settings.retry, call)
        batcher = self._batcher
        send = batcher.submit if batcher and call.batch_op and call.idempotency_key else None
        while True:
            try:
                answer = (send or self._send_once)(call)
            except httpx.TransportError as exc:
                _sleep(attempts.after_error(exc))
                continue
            delay = attempts.after_answer(answer)
            if delay is None:
                return answer
            _sleep(delay)

    def _perform(self, call: Call[T]) -> T:
        answer = self._exchange(call)
        if answer.status < 500 and answer.status != 429:
            self._replay_soon()
        return self._settings.result(call, answer)

    def _spend(self, call: Call[T]) -> T | D:
        call = self._settings.prepare_spend(call)
        try:
            return self._perform(call)
        except LedgerError as error:
            deferred: Any = self._settings.defer(call, error)  # D is Deferred when it returns
            return deferred  # type: ignore[no-any-return]

    def _journal_deferred(self, call: Call[Any], operation: str) -> Deferred:
        return self._settings.journal_call(call, operation)

    # --- the availability journal -----------------------------------------------------
    def _replay_soon(self) -> None:
        """Start replaying the journal in the background if anything waits in it."""
        journal = self._settings.journal
        if journal is None or not len(journal) or self._replay_lock.locked():
            return
        if self._replayer is not None and self._replayer.is_alive():
            return
        self._replayer = threading.Thread(
            target=self._replay_in_background, name="credit-ledger-replay", daemon=True
        )
        self._replayer.start()

    def _replay_in_background(self) -> None:
        try:
            self.replay_journal()
        except Exception:  # a thread of ours has no caller: log it, keep the entries
            log.exception("replaying the credit ledger journal failed; it is retried later")

    def replay_journal(self) -> ReplayReport:
        """Replay deferred calls, oldest first, until the journal is empty or the ledger is
        unavailable again. Runs by itself once the service answers; safe to call anytime."""
        report = ReplayReport()
        journal = self._settings.journal
        if journal is None or not self._replay_lock.acquire(blocking=False):
            return report
        try:
            for entry in journal.pending():
                action = self._replay_one(entry)
                if action == "stop":
                    break
                report.count(action)
        finally:
            self._replay_lock.release()
        report.remaining = len(journal)
        return report

    def _replay_one(self, entry: JournalEntry) -> ReplayAction:
        journal = self._settings.journal
        assert journal is not None  # noqa: S101 - only called with a journal
        try:
            answer = self._exchange(entry.call())
            action = replay_action(entry, answer)
            if action == "debit_instead":
                hold = self._perform(
                    ops_spending.get_hold(entry.wallet_id or "", entry.hold_id or "")
                )
                answer = self._exchange(expired_hold_debit(entry, hold))
                action = replay_action(entry, answer)
        except Unavailable:
            return "stop"
        except LedgerError as error:
            journal.reject(entry.key, error.problem)
            return "reject"
        if action == "settle":
            journal.settle(entry.key)
        elif action == "reject":
            journal.reject(entry.key, answer.json() or {"status": answer.status})
        return action

    # --- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Wait (briefly) for a running replay, then close connections and the journal."""
        replayer = self._replayer
        if replayer is not None:
            replayer.join(timeout=self._http.timeout.read or DEFAULT_TIMEOUT)
        self._http.close()
        journal = self._settings.journal
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
