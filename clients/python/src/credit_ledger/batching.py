"""Micro-batching: concurrent spending calls of one process travel as one ``POST /v1/batch``.

The first call to arrive opens a batch and waits ``window`` seconds (at most 2 ms); calls
arriving meanwhile join it, and a batch that reaches ``max_size`` is sent at once. Each
caller gets its own operation's answer, exactly what the single endpoint would have
answered, and raises its own error from it. Every operation carries its caller's
idempotency key, so a batch that is retried, or an operation resubmitted in a later batch
after a 503, is never decided twice.

A server without ``/v1/batch`` (404 ``not_found`` or 405) turns batching off for the
client: the waiting calls, and every later one, go to their single endpoints.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from credit_ledger.admin import BatchResult
from credit_ledger.calls import Answer, Call, decode_as
from credit_ledger.ops_spending import MAX_BATCH

__all__ = ["MAX_WINDOW", "AsyncBatcher", "SyncBatcher", "check_batching"]

MAX_WINDOW = 0.002
"""The longest a call may wait for others to join its batch (seconds)."""

_MISSING_ROUTE = frozenset({404, 405})


def check_batching(window: float, max_size: int) -> None:
    if not 0 < window <= MAX_WINDOW:
        raise ValueError(f"batch window must be in (0, {MAX_WINDOW}] seconds, not {window}")
    if not 1 <= max_size <= MAX_BATCH:
        raise ValueError(f"batch size must be in [1, {MAX_BATCH}], not {max_size}")


def _batch_call(items: list[_Item]) -> Call[Any]:
    operations = [item.call.batch_operation() for item in items]
    # Every operation carries its key: repeating the batch repeats no decision.
    return Call(
        "POST", "/v1/batch", decode_as(object), body={"operations": operations}, idempotent=True
    )


class _Item:
    __slots__ = ("answer", "call", "error", "fallback", "settled")

    def __init__(self, call: Call[Any]) -> None:
        self.call = call
        self.answer: Answer | None = None
        self.error: BaseException | None = None
        self.fallback = False
        self.settled: Any = None


def _distribute(items: list[_Item], answer: Answer) -> bool:
    """Give each item its result; False when the server has no batch route."""
    if answer.status in _MISSING_ROUTE:
        body = answer.json()
        if answer.status == 405 or (isinstance(body, dict) and body.get("code") == "not_found"):
            for item in items:
                item.fallback = True
            return False
    if answer.status != 200:  # the whole request failed (422, 429, 503...): each caller sees it
        for item in items:
            item.answer = answer
        return True
    body = answer.json() or {}
    error: Exception | None = None
    try:
        results = msgspec.convert(body.get("results", []), list[BatchResult])
    except msgspec.ValidationError as exc:
        results, error = [], exc
    by_index = {result.index: result for result in results}
    for index, item in enumerate(items):
        result = by_index.get(index)
        if result is None:
            item.error = error or RuntimeError(f"the batch answer has no result {index}")
        else:
            item.answer = Answer(result.status, answer.headers, body=result.body)
    return True


class SyncBatcher:
    """Micro-batching for threads: the thread that opens a batch waits the window and sends
    it (or the thread that fills it does); the others wait for their answers."""

    def __init__(
        self,
        send: Callable[[Call[Any]], Answer],
        window: float,
        max_size: int,
        sleep: Callable[[float], None] = time.sleep,
    ):
        check_batching(window, max_size)
        self._send = send
        self._sleep = sleep
        self.window = window
        self.max_size = max_size
        self.enabled = True
        self._lock = threading.Lock()
        self._open: list[_Item] | None = None
        self._events: dict[int, threading.Event] = {}

    def submit(self, call: Call[Any]) -> Answer:
        """Send ``call`` in a batch and return its own answer.

        Raises:
            httpx.TransportError: The batch got no answer (the caller's retry loop decides).
        """
        if not self.enabled:
            return self._send(call)
        item = _Item(call)
        item.settled = threading.Event()
        with self._lock:
            leader = self._open is None
            if leader:
                self._open = []
            batch = self._open
            assert batch is not None  # noqa: S101 - set just above when it was None
            batch.append(item)
            full = len(batch) >= self.max_size
            if full:
                self._open = None
        if full:
            self._flush(batch)
        elif leader:
            self._sleep(self.window)
            with self._lock:
                mine = self._open is batch
                if mine:
                    self._open = None
            if mine:
                self._flush(batch)
        item.settled.wait()
        return self._outcome(item)

    def _outcome(self, item: _Item) -> Answer:
        if item.fallback:
            return self._send(item.call)
        if item.error is not None:
            raise item.error
        assert item.answer is not None  # noqa: S101 - every settled item has one of the three
        return item.answer

    def _flush(self, items: list[_Item]) -> None:
        try:
            answer = self._send(_batch_call(items))
        except BaseException as exc:  # every caller must wake up, whatever happened
            for item in items:
                item.error = exc
        else:
            self.enabled = _distribute(items, answer) and self.enabled
        for item in items:
            item.settled.set()


class AsyncBatcher:
    """Micro-batching for one event loop: a timer closes each batch after the window, and
    the batch is sent by a task of its own, so a caller's cancellation strands no one."""

    def __init__(
        self, send: Callable[[Call[Any]], Awaitable[Answer]], window: float, max_size: int
    ):
        check_batching(window, max_size)
        self._send = send
        self.window = window
        self.max_size = max_size
        self.enabled = True
        self._open: list[_Item] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, call: Call[Any]) -> Answer:
        if not self.enabled:
            return await self._send(call)
        loop = asyncio.get_running_loop()
        item = _Item(call)
        item.settled = loop.create_future()
        if self._open is None:
            batch: list[_Item] = []
            self._open = batch
            loop.call_later(self.window, self._close, batch)
        else:
            batch = self._open
        batch.append(item)
        if len(batch) >= self.max_size:
            self._close(batch)
        await asyncio.shield(item.settled)
        if item.fallback:
            return await self._send(call)
        if item.error is not None:
            raise item.error
        assert item.answer is not None  # noqa: S101 - every settled item has one of the three
        return item.answer

    def _close(self, batch: list[_Item]) -> None:
        if self._open is not batch:
            return  # sent already, because it filled up
        self._open = None
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, items: list[_Item]) -> None:
        try:
            answer = await self._send(_batch_call(items))
        except BaseException as exc:  # every caller must wake up, whatever happened
            for item in items:
                item.error = exc
        else:
            self.enabled = _distribute(items, answer) and self.enabled
        for item in items:
            if not item.settled.done():
                item.settled.set_result(None)
