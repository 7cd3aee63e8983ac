"""Wallet commands answered on the event loop: the handler awaits the committer's answer.

With group commit (the default) a wallet command's ``*_later`` method only checks its input
and queues the command (no store I/O), so the handler can call it on the event loop and
await the future the committer completes — no worker thread is parked per request, and the
request crosses no thread hop of its own. Without group commit the method decides and saves
in the caller, so it runs in a worker thread as every other synchronous handler does.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import anyio.to_thread

from api.middleware.auth import Principal
from api.middleware.key_cache import CHECKED_AT_COMMIT
from api.middleware.metrics import decision
from api.owner_link import VIA_OWNER
from ledger.app.commands import Command
from ledger.app.executor import Outcome
from ledger.app.ports import WAIT_SECONDS, Fence, timed_out
from ledger.app.service import CreditLedger

__all__ = ["answer", "spending"]

C = TypeVar("C", bound=Command)
C_contra = TypeVar("C_contra", contravariant=True)


class Later(Protocol[C_contra]):
    """A ledger ``*_later`` method, e.g. ``CreditLedger.debit_later``."""

    def __call__(self, cmd: C_contra, /, *, fence: Fence | None = None) -> Future[Outcome]: ...


def spending(command: type) -> dict[str, Any]:
    """Route ``opt`` of a spending route: its decision metric, and the caller's key is
    confirmed by the ledger at commit (see :mod:`api.middleware.key_cache`)."""
    return {**decision(command), CHECKED_AT_COMMIT: True}


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
