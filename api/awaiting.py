"""Wallet commands answered on the event loop: the handler awaits the committer's answer.

With group commit (the default) a wallet command's ``*_later`` method only checks its input
and queues the command (no store I/O), so the handler can call it on the event loop and
await the future the committer completes — no worker thread is parked per request, and the
request crosses no thread hop of its own. Without group commit the method decides and saves
in the caller, so it runs in a worker thread as every other synchronous handler does.

:func:`answer_all` does the same for many commands at once (``POST /v1/batch``): it queues
every command, in order, then awaits them all with one wake-up of the event loop when the
last is answered, instead of one per command.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from litestar import Request

from api.dependencies import provide_ledger
from api.middleware.auth import ACCESS, SPEND, Principal
from api.middleware.key_cache import CHECKED_AT_COMMIT
from api.middleware.metrics import decision
from api.owner_link import VIA_OWNER, ViaOwner
from ledger.app.commands import Command
from ledger.app.executor import Outcome
from ledger.app.ports import WAIT_SECONDS, Fence, timed_out
from ledger.app.service import CreditLedger
from ledger.domain.errors import Overloaded

__all__ = [
    "SPENDING_OPT",
    "Call",
    "Queued",
    "answer",
    "answer_all",
    "spending",
    "spending_ledger",
]

C = TypeVar("C", bound=Command)
C_contra = TypeVar("C_contra", contravariant=True)


class Later(Protocol[C_contra]):
    """A ledger ``*_later`` method, e.g. ``CreditLedger.debit_later``."""

    def __call__(self, cmd: C_contra, /, *, fence: Fence | None = None) -> Future[Outcome]: ...


def spending_ledger(request: Request[Any, Any, Any]) -> CreditLedger:
    """The app's ledger, for the spending routes.

    Read from the app's state rather than injected: litestar's dependency resolution (a
    copy of the state and a provider call per request) was ~3 % of a debit's server CPU.
    """
    return provide_ledger(request.app.state)


SPENDING_OPT: dict[str, Any] = {CHECKED_AT_COMMIT: True, ACCESS: SPEND}
"""What every spending route's ``opt`` holds (the batch route's too; see :func:`spending`)."""


def spending(command: type) -> dict[str, Any]:
    """Route ``opt`` of a spending route: its decision metric, ``service`` (or ``admin``)
    keys only, checked with the authentication, and the caller's key is confirmed by the
    ledger at commit (see :mod:`api.middleware.key_cache`)."""
    return {**decision(command), **SPENDING_OPT}


async def answer(ledger: CreditLedger, later: Later[C], command: C, caller: Principal) -> Outcome:
    """The outcome of ``later(command)``, e.g. ``answer(ledger, ledger.debit_later, cmd, user)``.

    Raises what the command raises (its refusal; ``unauthenticated`` if ``caller``'s key was
    revoked), or ``overloaded`` when the committer does not answer in time (the command may
    still commit: a retry with the same key is safe). In a fleet, a command for a shard
    another process owns is sent to that owner (:mod:`api.owner_link`), which answers the
    same way.
    """
    fence = caller.fence
    committer = ledger.committer
    via = VIA_OWNER.get()
    if via is not None:  # fleet hook (decision 0016): decided by the shard's owner
        wait = WAIT_SECONDS if committer is None else committer.wait_seconds
        outcome = await via.answer(getattr(later, "__name__", ""), command, fence, wait)
        if outcome is not None:
            return outcome
    if committer is None:
        return await anyio.to_thread.run_sync(lambda: ledger.settle(later(command, fence=fence)))
    future = asyncio.wrap_future(later(command, fence=fence))
    try:
        # shield: a timeout or a client gone must not cancel the committer's own future,
        # which it completes whatever happens to this request.
        return await asyncio.wait_for(asyncio.shield(future), committer.wait_seconds)
    except TimeoutError:
        raise timed_out() from None


Call = Callable[[Fence | None], "Future[Outcome]"]
"""One queued command, e.g. ``Queued(ledger.debit_later, cmd)``; any call raising its refusal."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A command and the ``*_later`` method that queues it: a :data:`Call` that can also be
    sent, as it is, to its shard's owner."""

    later: Later[Any]
    command: Command

    def __call__(self, fence: Fence | None) -> Future[Outcome]:
        return self.later(self.command, fence=fence)

    @property
    def op(self) -> str:
        """The owner channel's name for it: the ``*_later`` method's (``debit_later``)."""
        return getattr(self.later, "__name__", "")


async def answer_all(
    ledger: CreditLedger,
    calls: Sequence[Call],
    caller: Principal,
    owners: Sequence[ViaOwner | None] | None = None,
) -> list[Outcome | Exception]:
    """Each call's outcome, or the error that answers it, in order.

    With group commit every command is queued first, in order (so commands on one wallet
    are decided in that order), then all are awaited together; once the queue is full the
    rest are answered ``overloaded`` without being queued, so none is decided after a later
    one. Without group commit they are decided one after the other in one worker thread.
    A command not answered in time is ``overloaded`` (it may still commit: retry the same
    key). In a fleet, ``owners`` names for each call the owner that decides it (None: here;
    see :func:`_answer_with_owners`).
    """
    if owners is not None and any(owners):
        return await _answer_with_owners(ledger, calls, caller, owners)
    fence = caller.fence
    committer = ledger.committer
    if committer is None:
        return await anyio.to_thread.run_sync(lambda: [_settled(ledger, c, fence) for c in calls])
    futures: list[Future[Outcome] | Exception] = []
    for call in calls:
        if futures and isinstance(futures[-1], Overloaded):
            futures.append(futures[-1])
            continue
        try:
            futures.append(call(fence))
        except Exception as refused:  # refused before it was queued (input, queue full)
            futures.append(refused)
    queued = [f for f in futures if isinstance(f, Future)]
    # shield: the committer completes its futures whatever happens to this request.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(_all_done(queued)), committer.wait_seconds)
    return [_outcome(f) for f in futures]


async def _answer_with_owners(
    ledger: CreditLedger,
    calls: Sequence[Call],
    caller: Principal,
    owners: Sequence[ViaOwner | None],
) -> list[Outcome | Exception]:
    """Calls whose shard another process owns are sent to it (decision 0016), all at once,
    in order on each owner's one connection, which its committer takes in that order; the
    rest, and those the owner was not reached for, are then queued here, in order.

    Every call of one wallet goes the same way (one shard, one owner), so their order
    holds: a connection that fails refuses what it had not yet written, which comes after
    what it had written, and a command written whose answer is lost is ``overloaded``.
    """
    committer = ledger.committer
    wait = WAIT_SECONDS if committer is None else committer.wait_seconds
    fence = caller.fence

    async def ask(call: Queued, via: ViaOwner) -> Outcome | Exception | None:
        try:
            return await via.answer(call.op, call.command, fence, wait)
        except Exception as error:  # the owner's refusal, or its answer lost
            return error

    sent = [
        (index, call, via)
        for index, (call, via) in enumerate(zip(calls, owners, strict=True))
        if via is not None and isinstance(call, Queued)
    ]
    asked = await asyncio.gather(*(ask(call, via) for _, call, via in sent))
    owned = {i: answer for (i, _, _), answer in zip(sent, asked, strict=True) if answer is not None}
    here = [call for i, call in enumerate(calls) if i not in owned]  # None: not reached
    decided = iter(await answer_all(ledger, here, caller))
    return [owned[i] if i in owned else next(decided) for i in range(len(calls))]


def _settled(ledger: CreditLedger, call: Call, fence: Fence | None) -> Outcome | Exception:
    try:
        return ledger.settle(call(fence))
    except Exception as error:
        return error


def _outcome(future: Future[Outcome] | Exception) -> Outcome | Exception:
    if isinstance(future, Exception):
        return future
    if not future.done():
        return timed_out()
    error = future.exception()
    return error if isinstance(error, Exception) else future.result()


def _all_done(futures: Sequence[Future[Outcome]]) -> asyncio.Future[None]:
    """Done once every future is: the committer thread wakes the event loop once, not per
    future (each wake-up is a write to the loop's self-pipe and a pass of the loop)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    remaining = len(futures)
    lock = threading.Lock()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def one_done(_: Future[Outcome]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            last = remaining == 0
        if last:
            loop.call_soon_threadsafe(wake)

    if not futures:
        waiter.set_result(None)
    for future in futures:
        future.add_done_callback(one_done)
    return waiter
