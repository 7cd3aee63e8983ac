"""The receiving end of the owner channel: a spending command sent to its shard's owner
(decision 0016; wire format in :mod:`api.channel_wire`, the owner in :mod:`api.owner_channel`).

A spending request (debit, refund, hold, capture, release) for a shard another process owns
is handled here as usual — parsed, authenticated (key cache), rate-limited, validated, the
command built — and only the *decision* moves: the forwarding middleware marks the request
with :data:`VIA_OWNER`, and :func:`api.awaiting.answer` sends the command to the owner over
one persistent connection per owner (many commands in flight, answers matched by id) instead
of queueing it here. The outcome comes back and is rendered here exactly as the owner would
have: same body, same headers, same problem for a refusal.

Failures, and why each answer is safe:

* no connection can be made (the owner died): the shard is taken over and the command is
  decided here — nothing was sent, so nothing can have been done twice;
* the owner closes the connection without the hello (a stale token), declines the command
  (another version), or the connection drops before the command was written: decided here,
  nothing was sent to be decided there;
* the connection drops after the command was written, or no answer comes within the
  committer's own wait: 503 ``overloaded``, "retry with the same idempotency key" — the owner
  may have committed, exactly as when a commit's acknowledgement is lost.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import anyio.to_thread
import msgspec

from api.channel_wire import (
    HELLO,
    FrameError,
    Frames,
    decode,
    decode_answer,
    encode_request,
    frame,
)
from api.errors import Problem, Relayed, Unauthenticated
from api.middleware.key_cache import CHECKED_AT_COMMIT, KeyFence
from ledger.app.commands import Command
from ledger.app.executor import Outcome
from ledger.app.ports import timed_out
from ledger.domain.errors import Overloaded

__all__ = [
    "CONNECT_SECONDS",
    "DOWN_SECONDS",
    "LINKS_KEY",
    "VIA_OWNER",
    "ChannelRefused",
    "OwnerLinks",
    "ViaOwner",
    "via_owner",
]

LINKS_KEY = "owner_links"
"""Where the app keeps its :class:`OwnerLinks` (absent: no channel, HTTP forwarding only)."""
CONNECT_SECONDS = 1.0
SWEEP_SECONDS = 0.25
"""How often overdue answers are looked for: a lost answer is told within this of its wait."""
DOWN_SECONDS = 2.0
"""After a refused connection, that owner's commands are decided here for this long."""


class Uncarried(Exception):
    """A command the wire cannot carry (an op it does not know, an integer too large)."""


class ChannelRefused(Exception):
    """The command was not delivered: decide it here. ``dead``: nobody listens (take over)."""

    def __init__(self, reason: str, *, dead: bool) -> None:
        super().__init__(reason)
        self.dead = dead


def _lost() -> Overloaded:
    return Overloaded("the shard's owner did not answer; retry with the same idempotency key")


class _Link(asyncio.Protocol):
    """One connection to one owner's channel; commands written in one batch per loop turn."""

    def __init__(self, token: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._token = token
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self.waiting: dict[int, asyncio.Future[list[Any]]] = {}
        self.closed = False
        self._unsent: list[tuple[int, bytes]] = []
        self._deadlines: deque[tuple[float, int]] = deque()  # in sending order
        self._flushing = False
        self._frames = Frames()
        self._next = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)
        self._transport.write(frame((HELLO, self._token)))

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self._frames.feed(data)
        except FrameError:
            self.close()
            return
        for payload in payloads:
            try:
                message = decode(payload)
            except msgspec.DecodeError:
                self.close()  # not the owner channel: connection_lost answers what waits
                return
            if not self.ready.done():
                if message != [HELLO]:
                    self.close()  # connection_lost refuses what waits
                    return
                self.ready.set_result(None)
                continue
            future = self.waiting.pop(message[0], None)
            if future is not None and not future.done():
                future.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ChannelRefused(f"the owner closed the channel ({exc})", dead=False))

    def fail(self, refused: ChannelRefused) -> None:
        """The connection is gone: written commands are lost, unwritten ones refused."""
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(refused)
            self.ready.exception()  # retrieved: nobody else may be waiting for it
        unsent = {request_id for request_id, _ in self._unsent}
        for request_id, future in self.waiting.items():
            if not future.done():
                future.set_exception(refused if request_id in unsent else _lost())
        self.waiting.clear()
        self._unsent.clear()
        self._deadlines.clear()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def send(
        self, op: str, command: Command, fence: KeyFence | None, deadline: float
    ) -> tuple[int, Any]:
        """Queue ``command`` for the next write; its id and the future of its answer, which
        :meth:`expire` fails with ``overloaded`` after ``deadline`` (monotonic)."""
        if self.closed:  # lost while this command waited for the hello: nothing was sent
            raise ChannelRefused("the owner closed the channel", dead=False)
        self._next += 1
        request_id = self._next
        key_id, version = (None, 0) if fence is None else (fence.key_id, fence.version)
        try:
            data = encode_request(request_id, op, key_id, version, command)
        except (KeyError, TypeError, ValueError, OverflowError, msgspec.EncodeError) as error:
            raise Uncarried(str(error)) from error
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self.waiting[request_id] = future
        self._deadlines.append((deadline, request_id))
        self._unsent.append((request_id, data))
        if not self._flushing:
            self._flushing = True
            self._loop.call_soon(self._flush)
        return request_id, future

    def expire(self, now: float) -> None:
        """Fail the commands still unanswered at their deadline: the owner may yet decide
        them, so they answer ``overloaded`` (a retry with the same key is safe)."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            future = self.waiting.pop(deadlines.popleft()[1], None)
            if future is not None and not future.done():
                future.set_exception(timed_out())

    def _flush(self) -> None:
        self._flushing = False
        if self.closed or self._transport is None or not self._unsent:
            return
        self._transport.write(b"".join(data for _, data in self._unsent))
        self._unsent.clear()


class OwnerLinks:
    """This process's connections to the owners' channels, one per owner, made on first use."""

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}
        self._opening: set[asyncio.Task[None]] = set()
        self.down: dict[str, float] = {}
        """Owners (their HTTP URL) that refused a connection, until when."""
        self._sweeper: asyncio.Task[None] | None = None

    def is_down(self, url: str) -> bool:
        return self.down.get(url, 0.0) > time.monotonic()

    async def ask(
        self, channel: str, op: str, command: Command, fence: KeyFence | None, wait: float
    ) -> Outcome | Problem | None:
        """The owner's answer to ``command``: its outcome, its problem, or None (declined).

        Raises:
            ChannelRefused: The command was not delivered.
            Overloaded: It was delivered and no answer came (a retry with its key is safe).
        """
        link = self._links.get(channel)
        if link is None or link.closed:
            link = self._open(channel)
        if not link.ready.done():  # (a link whose hello failed is closed: never reused)
            await asyncio.shield(link.ready)
        request_id, future = link.send(op, command, fence, time.monotonic() + wait)
        try:
            message = await future
        finally:
            link.waiting.pop(request_id, None)
        return decode_answer(message)

    async def _expire(self) -> None:
        """Answer ``overloaded`` to commands whose answer is overdue (one timer for all)."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            for link in list(self._links.values()):
                link.expire(now)

    def _open(self, channel: str) -> _Link:
        parts = urlsplit(channel)
        link = _Link(parts.username or "")
        self._links[channel] = link
        host, port = parts.hostname or "", parts.port or 0
        loop = asyncio.get_running_loop()
        task = loop.create_task(_connect(link, host, port))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._expire())
        return link

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


async def _connect(link: _Link, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            await loop.create_connection(lambda: link, host, port)
    except (OSError, TimeoutError) as error:
        link.fail(ChannelRefused(str(error) or "connection timed out", dead=True))
        return
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            await asyncio.shield(link.ready)
    except TimeoutError:
        link.fail(ChannelRefused("the owner did not answer the hello", dead=False))
    except ChannelRefused:
        pass


class _Owners(Protocol):
    def owner_channel(self, shard: int) -> str | None: ...

    def take_over(self, shard: int, dead_url: str) -> None: ...


VIA_OWNER: contextvars.ContextVar[ViaOwner | None] = contextvars.ContextVar(
    "via_owner", default=None
)
"""Set by the forwarding middleware while a request whose decision moves to its owner runs."""


@dataclass(frozen=True, slots=True)
class ViaOwner:
    """Where the current request's command is decided: ``channel`` of the owner at ``url``."""

    links: OwnerLinks
    owners: _Owners
    shard: int
    url: str
    channel: str

    async def answer(
        self, op: str, command: Command, fence: KeyFence | None, wait: float
    ) -> Outcome | None:
        """The owner's outcome; None: decide it here (the owner was not reached).

        Raises:
            Relayed: The owner refused the command (its problem, answered as it is).
            Overloaded: The owner may have decided it and its answer was lost.
        """
        try:
            answer = await self.links.ask(self.channel, op, command, fence, wait)
        except ChannelRefused as refused:
            # Commands sent together (a batch) are refused together: the first takes over.
            known = self.links.is_down(self.url)
            self.links.down[self.url] = time.monotonic() + DOWN_SECONDS
            if refused.dead and not known:
                await anyio.to_thread.run_sync(self.owners.take_over, self.shard, self.url)
            return None
        except Uncarried:
            return None  # nothing was sent
        if isinstance(answer, Problem):
            if answer.code == Unauthenticated.code and fence is not None:
                fence.cache.forget(fence.key_id)  # revoked: this process verifies it again
            raise Relayed(answer)
        return answer


def via_owner(
    scope: Any, links: OwnerLinks | None, owners: _Owners, shard: int, url: str
) -> ViaOwner | None:
    """How the request in ``scope`` reaches ``url``, the owner of ``shard``, through the
    channel: only spending routes (their key is confirmed at commit), and only when the
    owner announced a channel and is not known to be down."""
    handler = scope.get("route_handler")
    if links is None or handler is None or not handler.opt.get(CHECKED_AT_COMMIT):
        return None
    channel = owners.owner_channel(shard)
    if not channel or links.is_down(url):
        return None
    return ViaOwner(links, owners, shard, url, channel)
