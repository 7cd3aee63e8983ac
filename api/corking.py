"""One socket write per response: uvicorn's httptools protocol with its header write held.

uvicorn writes a response's status line and headers on ``http.response.start`` and the body
on ``http.response.body``: two ``send`` calls, two TCP segments, and on the client side two
wake-ups, for every answer. The two ASGI messages of an ordinary litestar response arrive in
the same step of the event loop, so :class:`CorkedTransport` holds the header block and
writes it together with the body; a header block with no body behind it in the same step (a
stream that waits for its first chunk, a ``100 Continue``) is written at the end of that
step, so nothing waits longer than the step that produced it. py-spy put the header write
at 9 % of a debit's GIL samples; on the bare web stack the change saved 13 % of the
server's CPU per request, about 4 % of a debit's (decision 0028, ``docs/performance.md``).

It is uvicorn's own protocol class (``uvicorn.run(http=...)``), given a wrapped transport in
``connection_made``; everything but ``write``, ``writelines``, ``close`` and ``abort`` goes
straight to the real transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CorkedHttpToolsProtocol", "CorkedTransport", "http_protocol"]

_HEAD_END = b"\r\n\r\n"


class CorkedTransport:
    """A transport that writes a lone header block together with the write after it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif isinstance(data, bytes) and data.startswith(b"HTTP/") and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)  # if no body follows in this step
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Write what is held now (no-op when nothing is)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, chunks: Any) -> None:
        self.flush()
        self._transport.writelines(chunks)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each ordinary response in one ``send``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, self.loop)
        super().connection_made(corked)  # type: ignore[arg-type]


def http_protocol(cork: bool) -> type[asyncio.Protocol] | str:
    """uvicorn's ``http`` setting: this protocol, or uvicorn's own choice (``auto``)."""
    return CorkedHttpToolsProtocol if cork else "auto"
