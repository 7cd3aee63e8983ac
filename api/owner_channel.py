"""The owner's end of the channel: commands from the other processes, straight into the
committer (decision 0016, wire format in :mod:`api.channel_wire`).

The process that received the HTTP request has done all the HTTP work (parsing,
authentication, rate limit, validation, and it renders the answer); here a command costs
a frame's decoding, the ``*_later`` call that queues it and the encoding of its outcome. The
caller's key is confirmed at commit by a :class:`~api.key_cache.KeyFence`, exactly as for
a request this process received itself, so a key revoked anywhere still counts at once.

The committer completes futures on its own thread; their answers are collected in an
:class:`_Outbox` and written from the event loop, one wake-up and one write per connection
for a whole batch (not one per command).

Only processes that know the channel's token (read from the lease table, where the owner
publishes it with its address) are served: a connection whose first frame is not the
hello with the token is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
import time
from concurrent.futures import Future
from functools import partial
from typing import cast

import msgspec

from api.channel_wire import (
    HELLO,
    HELLO_MAX_BYTES,
    MAX_FRAME_BYTES,
    FrameError,
    Frames,
    Undecodable,
    decode,
    decode_request,
    encode_declined,
    encode_done,
    encode_refused,
    frame,
)
from api.errors import Problem, to_problem
from api.middleware.key_cache import KeyCache, KeyFence
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger

__all__ = ["ChannelServer"]

log = logging.getLogger(__name__)


class _Outbox:
    """Answers the committer thread completed, written from the event loop in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready: list[tuple[_Connection, int, Future[Outcome]]] = []
        self._lock = threading.Lock()
        self._woken = False

    def put(self, connection: _Connection, request_id: int, future: Future[Outcome]) -> None:
        """Any thread: queue the answer; the first one since the last flush wakes the loop."""
        with self._lock:
            self._ready.append((connection, request_id, future))
            if self._woken:
                return
            self._woken = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to answer
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
            self._woken = False
        touched: dict[int, _Connection] = {}
        for connection, request_id, future in ready:
            connection.answer(request_id, future)
            touched[id(connection)] = connection
        for connection in touched.values():
            connection.flush()


class _Connection(asyncio.Protocol):
    """One other process's connection: hello first, then requests, many in flight."""

    def __init__(self, server: ChannelServer) -> None:
        self._server = server
        self._frames = Frames(HELLO_MAX_BYTES)
        self._greeted = False
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        # Commands already queued still commit; their answers have nowhere to go (the
        # other process answered 503 "retry with the same idempotency key").
        self._server.connections.discard(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self._frames.feed(data)
        except FrameError:
            self.abort()
            return
        for payload in payloads:
            if not self._greeted:
                if not self._greet(payload):
                    self.abort()
                    return
                continue
            self._take(payload)
        self.flush()

    def _greet(self, payload: bytes) -> bool:
        try:
            hello, token = decode(payload)
        except (msgspec.DecodeError, ValueError, TypeError):
            return False
        if hello != HELLO or not isinstance(token, str):
            return False
        if not hmac.compare_digest(token.encode(), self._server.token.encode()):
            return False
        self._greeted = True
        self._frames.limit = MAX_FRAME_BYTES
        self._out.append(frame((HELLO,)))
        return True

    def _take(self, payload: bytes) -> None:
        server = self._server
        try:
            request = decode_request(payload)
        except Undecodable as undecodable:  # another version's op: decided by the sender
            self._out.append(encode_declined(undecodable.request_id))
            return
        except (msgspec.DecodeError, ValueError, TypeError):
            self.abort()
            return
        server.commands += 1
        fence = None
        if request.key_id is not None:
            fence = KeyFence(request.key_id, request.key_version, server.keys)
        later = getattr(server.ledger, request.op)
        try:
            future: Future[Outcome] = later(request.command, fence=fence)
        except Exception as error:  # bad input, a full queue: refused at once
            self._out.append(encode_refused(request.id, _problem(error)))
            return
        server.in_flight += 1
        future.add_done_callback(partial(server.outbox.put, self, request.id))

    def answer(self, request_id: int, future: Future[Outcome]) -> None:
        """Event loop: encode a completed command's answer (sent at the next flush)."""
        self._server.in_flight -= 1
        if self._transport is None:
            return
        try:
            outcome = future.result()
        except Exception as error:
            self._out.append(encode_refused(request_id, _problem(error)))
            return
        try:
            self._out.append(encode_done(request_id, outcome))
        except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as error:
            self._out.append(encode_refused(request_id, _problem(error)))

    def flush(self) -> None:
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Send what is ready, then close (the transport writes its buffer out first)."""
        self.flush()
        if self._transport is not None:
            self._transport.close()


def _problem(error: Exception) -> Problem:
    problem = to_problem(error)
    if problem.status == 500:
        log.error("a command from the owner channel failed", exc_info=error)
    return problem


class ChannelServer:
    """Serves the owner channel of this process (one per process, on the event loop)."""

    def __init__(self, ledger: CreditLedger, keys: KeyCache, token: str) -> None:
        self.ledger = ledger
        self.keys = keys
        self.token = token
        self.connections: set[_Connection] = set()
        self.in_flight = 0
        self.commands = 0
        """Commands received since the start (each answered: decided, or refused at once)."""
        self.outbox: _Outbox
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host``:``port`` (0: a free port); returns the port."""
        loop = asyncio.get_running_loop()
        self.outbox = _Outbox(loop)
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def close(self, seconds: float) -> None:
        """Stop accepting, let the commands in flight answer (up to ``seconds``), then close
        every connection (the other processes reconnect to the shards' next owners)."""
        self.stop_accepting()
        deadline = time.monotonic() + seconds
        while self.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self.connections):
            connection.close()
