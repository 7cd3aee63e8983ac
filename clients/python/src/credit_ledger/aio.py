"""The asynchronous client, :class:`AsyncLedger`: :class:`~credit_ledger.Ledger` for asyncio,
with the same methods (each a coroutine) built from the same operation definitions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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
from credit_ledger.batching import AsyncBatcher, check_batching
from credit_ledger.binding import async_op, async_spend
from credit_ledger.calls import Answer, Call, raw_call
from credit_ledger.errors import LedgerError, Unavailable
from credit_ledger.holds import AsyncHoldScope
from credit_ledger.journal import DEFAULT_MAX_ENTRIES, JournalEntry
from credit_ledger.lists import AsyncListIterators
from credit_ledger.models import Deferred
from credit_ledger.retry import Attempts, RetryPolicy
from credit_ledger.usage import Subject, Usage

__all__ = ["AsyncLedger"]

T = TypeVar("T")
log = logging.getLogger("credit_ledger")
_sleep = asyncio.sleep  # a module attribute, so tests can watch the delays


class AsyncLedger(ClientCommon, AsyncListIterators, Generic[D]):
    """The asyncio client; constructor arguments as :class:`~credit_ledger.Ledger`'s."""

    @overload
    def __init__(
        self: AsyncLedger[Never],
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
        transport: httpx.AsyncBaseTransport | None = ...,
    ) -> None: ...
    @overload
    def __init__(
        self: AsyncLedger[Deferred],
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
        transport: httpx.AsyncBaseTransport | None = ...,
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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._http = httpx.AsyncClient(
            base_url=self._settings.base_url,
            headers=self._settings.headers(),
            timeout=timeout,
            transport=transport,
        )
        self._batcher = (
            None
            if batch_window is None
            else AsyncBatcher(self._send_once, batch_window, batch_max_size)
        )
        self._replaying = False
        self._replayer: asyncio.Task[None] | None = None

    # --- wallets, grants, budgets, allowances, alert settings -------------------------
    open_wallet = async_op(ops_wallets.open_wallet)
    get_wallet = async_op(ops_wallets.get_wallet)
    wallet_events = async_op(ops_wallets.wallet_events)
    list_wallets = async_op(ops_wallets.list_wallets)
    grant = async_op(ops_wallets.grant)
    void_grant = async_op(ops_wallets.void_grant)
    set_budget = async_op(ops_wallets.set_budget)
    list_budgets = async_op(ops_wallets.list_budgets)
    get_budget = async_op(ops_wallets.get_budget)
    delete_budget = async_op(ops_wallets.delete_budget)
    put_allowance = async_op(ops_wallets.put_allowance)
    list_allowances = async_op(ops_wallets.list_allowances)
    get_allowance = async_op(ops_wallets.get_allowance)
    delete_allowance = async_op(ops_wallets.delete_allowance)
    put_alert_settings = async_op(ops_wallets.put_alert_settings)
    get_alert_settings = async_op(ops_wallets.get_alert_settings)
    # --- spending ---------------------------------------------------------------------
    debit = async_spend(ops_spending.debit)
    refund = async_op(ops_spending.refund)
    list_debits = async_op(ops_spending.list_debits)
    get_debit = async_op(ops_spending.get_debit)
    place_hold = async_spend(ops_spending.place_hold)
    capture_hold = async_spend(ops_spending.capture_hold)
    release_hold = async_spend(ops_spending.release_hold)
    get_hold = async_op(ops_spending.get_hold)
    list_holds = async_op(ops_spending.list_holds)
    batch = async_op(ops_spending.batch)
    # --- audit, usage, rating, metering -----------------------------------------------
    get_journal = async_op(ops_reports.get_journal)
    journal_csv = async_op(ops_reports.journal_csv)
    trial_balance = async_op(ops_reports.trial_balance)
    get_usage = async_op(ops_reports.get_usage)
    usage_csv = async_op(ops_reports.usage_csv)
    put_price_book = async_op(ops_reports.put_price_book)
    get_price_book = async_op(ops_reports.get_price_book)
    list_price_books = async_op(ops_reports.list_price_books)
    ingest_usage_events = async_op(ops_reports.ingest_usage_events)
    put_meter = async_op(ops_reports.put_meter)
    get_meter = async_op(ops_reports.get_meter)
    list_meters = async_op(ops_reports.list_meters)
    meter_series = async_op(ops_reports.meter_series)
    # --- administration and operations ------------------------------------------------
    create_api_key = async_op(ops_admin.create_api_key)
    revoke_api_key = async_op(ops_admin.revoke_api_key)
    list_api_keys = async_op(ops_admin.list_api_keys)
    whoami = async_op(ops_admin.whoami)
    put_webhook = async_op(ops_admin.put_webhook)
    get_webhook = async_op(ops_admin.get_webhook)
    delete_webhook = async_op(ops_admin.delete_webhook)
    list_webhooks = async_op(ops_admin.list_webhooks)
    webhook_deliveries = async_op(ops_admin.webhook_deliveries)
    list_projections = async_op(ops_admin.list_projections)
    rebuild_projection = async_op(ops_admin.rebuild_projection)
    health = async_op(ops_admin.health)
    ready = async_op(ops_admin.ready)
    metrics = async_op(ops_admin.metrics)

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
    ) -> AsyncHoldScope[D]:
        """A hold as an ``async with`` context manager (see :meth:`Ledger.hold`)."""
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
        return AsyncHoldScope(self, place)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any route (see :meth:`Ledger.request`): unkeyed writes are never retried."""
        return await self._perform(raw_call(method, path, params, json, idempotency_key))

    # --- plumbing ---------------------------------------------------------------------
    async def _send_once(self, call: Call[Any]) -> Answer:
        headers = call.headers()
        content = call.content()
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = await self._http.request(
            call.method, call.path, params=call.params, content=content, headers=headers
        )
        return Answer(response.status_code, response.headers, response.content)

    async def _exchange(self, call: Call[Any]) -> Answer:
        attempts = Attempts(self._settings.retry, call)
        batcher = self._batcher
        send = batcher.submit if batcher and call.batch_op and call.idempotency_key else None
        while True:
            try:
                answer = await (send or self._send_once)(call)
            except httpx.TransportError as exc:
                await _sleep(attempts.after_error(exc))
                continue
            delay = attempts.after_answer(answer)
            if delay is None:
                return answer
            await _sleep(delay)

    async def _perform(self, call: Call[T]) -> T:
        answer = await self._exchange(call)
        if answer.status < 500 and answer.status != 429:
            self._replay_soon()
        return self._settings.result(call, answer)

    async def _spend(self, call: Call[T]) -> T | D:
        call = self._settings.prepare_spend(call)
        try:
            return await self._perform(call)
        except LedgerError as error:
            deferred: Any = self._settings.defer(call, error)  # D is Deferred when it returns
            return deferred  # type: ignore[no-any-return]

    def _journal_deferred(self, call: Call[Any], operation: str) -> Deferred:
        return self._settings.journal_call(call, operation)

    # --- the availability journal -----------------------------------------------------
    def _replay_soon(self) -> None:
        journal = self._settings.journal
        if journal is None or not len(journal) or self._replaying:
            return
        if self._replayer is not None and not self._replayer.done():
            return
        # Kept in an attribute: the loop holds tasks only weakly.
        self._replayer = asyncio.get_running_loop().create_task(self._replay_in_background())

    async def _replay_in_background(self) -> None:
        try:
            await self.replay_journal()
        except Exception:  # a task of ours has no caller: log it, keep the entries
            log.exception("replaying the credit ledger journal failed; it is retried later")

    async def replay_journal(self) -> ReplayReport:
        """Replay deferred calls (see :meth:`Ledger.replay_journal`)."""
        report = ReplayReport()
        journal = self._settings.journal
        if journal is None or self._replaying:
            return report
        self._replaying = True
        try:
            for entry in journal.pending():
                action = await self._replay_one(entry)
                if action == "stop":
                    break
                report.count(action)
        finally:
            self._replaying = False
        report.remaining = len(journal)
        return report

    async def _replay_one(self, entry: JournalEntry) -> ReplayAction:
        journal = self._settings.journal
        assert journal is not None  # noqa: S101 - only called with a journal
        try:
            answer = await self._exchange(entry.call())
            action = replay_action(entry, answer)
            if action == "debit_instead":
                get = ops_spending.get_hold(entry.wallet_id or "", entry.hold_id or "")
                hold = await self._perform(get)
                answer = await self._exchange(expired_hold_debit(entry, hold))
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
    async def aclose(self) -> None:
        """Let a running replay finish, then close connections and the journal."""
        replayer = self._replayer
        if replayer is not None and not replayer.done():
            with contextlib.suppress(Exception):
                await replayer
        await self._http.aclose()
        journal = self._settings.journal
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
