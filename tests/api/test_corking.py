"""One socket write per response (api.corking): the header block waits for the body, and
for no longer than the event-loop step that wrote it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.corking import CorkedHttpToolsProtocol, CorkedTransport, http_protocol
from tests.support.live_server import free_port

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class FakeTransport:
    """Records writes and closes, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.log.append(("write", bytes(data)))

    def writelines(self, chunks: list[bytes]) -> None:
        self.log.append(("writelines", b"".join(chunks)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.log.append(("close", b""))

    def abort(self) -> None:
        self.closing = True
        self.log.append(("abort", b""))

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


class FakeLoop:
    """Keeps ``call_soon`` callbacks until the test runs the step's end."""

    def __init__(self) -> None:
        self.soon: list[Callable[[], None]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.soon.append(callback)

    def end_step(self) -> None:
        soon, self.soon = self.soon, []
        for callback in soon:
            callback()


def corked() -> tuple[CorkedTransport, FakeTransport, FakeLoop]:
    transport, loop = FakeTransport(), FakeLoop()
    return CorkedTransport(transport, loop), transport, loop  # type: ignore[arg-type]


def test_headers_and_body_of_one_step_go_out_in_one_write() -> None:
    cork, transport, loop = corked()
    cork.write(HEAD)
    cork.write(b"ok")
    loop.end_step()
    assert transport.log == [("write", HEAD + b"ok")]


def test_a_header_block_alone_is_written_at_the_end_of_its_step() -> None:
    cork, transport, loop = corked()
    cork.write(HEAD)
    assert transport.log == []
    loop.end_step()
    assert transport.log == [("write", HEAD)]
    cork.write(b"ok")  # a later chunk goes straight out
    assert transport.log == [("write", HEAD), ("write", b"ok")]


def test_other_writes_are_not_held() -> None:
    cork, transport, loop = corked()
    cork.write(b"3\r\nabc\r\n")
    cork.write(b"not a header block")
    assert transport.log == [("write", b"3\r\nabc\r\n"), ("write", b"not a header block")]
    assert loop.soon == []


def test_close_writes_what_is_held_first_and_abort_drops_it() -> None:
    cork, transport, _ = corked()
    cork.write(HEAD)
    cork.close()
    assert transport.log == [("write", HEAD), ("close", b"")]
    cork2, transport2, loop2 = corked()
    cork2.write(HEAD)
    cork2.abort()
    loop2.end_step()
    assert transport2.log == [("abort", b"")]


def test_writelines_keeps_the_order_and_nothing_goes_to_a_closing_transport() -> None:
    cork, transport, loop = corked()
    cork.write(HEAD)
    cork.writelines([b"o", b"k"])
    assert transport.log == [("write", HEAD), ("writelines", b"ok")]
    cork.write(HEAD)
    transport.closing = True
    loop.end_step()
    assert transport.log == [("write", HEAD), ("writelines", b"ok")]


def test_everything_else_is_the_real_transports() -> None:
    cork, _, _ = corked()
    assert cork.get_extra_info("peername") == "extra:peername"
    assert http_protocol(True) is CorkedHttpToolsProtocol
    assert http_protocol(False) == "auto"


# -- a real uvicorn server: what reaches its socket ------------------------------------------


class Recording:
    """The real transport, with every write recorded (when, what) on its way to the socket."""

    def __init__(self, transport: asyncio.Transport, log: list[tuple[float, bytes]]) -> None:
        self._transport, self._log = transport, log

    def write(self, data: bytes) -> None:
        self._log.append((time.monotonic(), bytes(data)))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


WRITES: list[tuple[float, bytes]] = []


class RecordedPlain(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Recording(transport, WRITES))  # type: ignore[arg-type]


class RecordedCorked(CorkedHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Recording(transport, WRITES))  # type: ignore[arg-type]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    slow = scope["path"] == "/slow"  # a stream whose first chunk comes half a second later
    headers = [] if slow else [(b"content-length", b"4")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if slow:
        await asyncio.sleep(0.5)
    await send({"type": "http.response.body", "body": b"done"})


@contextmanager
def serving(protocol: type[asyncio.Protocol]) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocol, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _get(port: int, path: str) -> tuple[bytes, list[tuple[float, bytes]]]:
    """The whole answer, and the server's socket writes that made it."""
    WRITES.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer, list(WRITES)


def test_uvicorns_own_protocol_writes_a_response_twice() -> None:
    # The recording sees what the next test relies on: headers and body as two writes.
    with serving(RecordedPlain) as port:
        answer, writes = _get(port, "/")
    assert answer.endswith(b"\r\n\r\ndone")
    assert [data for _, data in writes] == [answer.removesuffix(b"done"), b"done"]


def test_the_corked_protocol_writes_a_response_once() -> None:
    with serving(RecordedCorked) as port:
        answer, writes = _get(port, "/")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\ndone")
    assert [data for _, data in writes] == [answer]


def test_a_streams_headers_leave_before_its_first_chunk() -> None:
    with serving(RecordedCorked) as port:
        answer, writes = _get(port, "/slow")
    (head_at, head), (chunk_at, chunk), *_ = writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\n\r\n")
    assert chunk.startswith(b"4\r\ndone")
    assert chunk_at - head_at >= 0.4  # the header block did not wait for the chunk
    assert answer == b"".join(data for _, data in writes)
