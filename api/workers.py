"""Several API worker processes, each with its own listening socket (``SO_REUSEPORT``).

uvicorn's own ``--workers`` shares ONE listening socket among its processes; whichever
process wakes first accepts a burst of new connections, and keep-alive connections stay where
they landed. Measured with the usage-ingest benchmark (8 keep-alive clients, 2 workers): one
process got nearly every connection and the second core stayed idle (server CPU 88 % of one
core, the same throughput as one worker). With a socket per process and ``SO_REUSEPORT`` the
kernel spreads connections over the processes by a hash of their addresses.

The supervisor (this process) starts ``workers`` processes, restarts one that dies, and on
SIGTERM or SIGINT asks each to stop once (uvicorn's graceful shutdown), then waits for them.
Workers run in their own process group so a terminal's Ctrl-C reaches them once, through the
supervisor; a worker whose supervisor disappears (SIGKILL) stops by itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import deque
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from api.logs import uvicorn_log_config

__all__ = [
    "MAX_RESTARTS",
    "RESTART_WINDOW_SECONDS",
    "SUPPORTED",
    "check_port_free",
    "serve_workers",
]

log = logging.getLogger(__name__)

SUPPORTED = hasattr(socket, "SO_REUSEPORT")
"""Linux and the BSDs; elsewhere ``ledger serve`` falls back to uvicorn's own workers."""

_PARENT_CHECK_SECONDS = 1.0
_RESTART_PAUSE_SECONDS = 0.5
_STOP_WAIT_SECONDS = 30.0
MAX_RESTARTS = 5
"""Restarts allowed within :data:`RESTART_WINDOW_SECONDS`; more means the workers cannot start
(a bad setting, an unreachable store): give up with exit status 1 rather than loop forever."""
RESTART_WINDOW_SECONDS = 60.0


def serve_workers(
    app_factory: str,
    *,
    host: str,
    port: int,
    workers: int,
    access_log: bool,
    http: type[asyncio.Protocol] | str = "auto",
) -> int:
    """Run ``workers`` processes serving ``app_factory`` on ``host:port`` until told to stop."""
    check_port_free(host, port)
    context = multiprocessing.get_context("spawn")
    args = (app_factory, host, port, {"access_log": access_log, "http": http}, os.getpid())
    processes: list[BaseProcess] = []
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        del signum
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    restarts: deque[float] = deque(maxlen=MAX_RESTARTS + 1)
    try:
        for _ in range(workers):
            processes.append(_start(context, args))
        while not stopping.wait(_RESTART_PAUSE_SECONDS):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                restarts.append(time.monotonic())  # a worker died: keep the configured count
                if _too_many(restarts):
                    log.error("API workers keep dying (%d restarts); giving up", len(restarts))
                    return 1
                processes[index] = _start(context, args)
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_WAIT_SECONDS
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _too_many(restarts: deque[float]) -> bool:
    return len(restarts) > MAX_RESTARTS and restarts[-1] - restarts[0] < RESTART_WINDOW_SECONDS


def _start(context: multiprocessing.context.SpawnContext, args: tuple[object, ...]) -> BaseProcess:
    process = context.Process(target=_worker, args=args, name="ledger-api-worker")
    process.start()
    return process


def check_port_free(host: str, port: int) -> None:
    """Refuse a port someone else listens on: SO_REUSEPORT would otherwise share it silently."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))  # OSError (address in use) is the answer


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _worker(app_factory: str, host: str, port: int, options: dict[str, Any], parent: int) -> None:
    os.setpgrp()  # Ctrl-C reaches the supervisor only, which asks each worker to stop once
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        app_factory,
        factory=True,
        host=host,
        port=port,
        access_log=options["access_log"],
        http=options["http"],  # api.corking
        log_config=uvicorn_log_config(),  # LEDGER_LOG_* from the inherited environment
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_exit_with_parent, args=(server, parent), daemon=True).start()
    server.run(sockets=[sock])


def _exit_with_parent(server: uvicorn.Server, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    server.should_exit = True  # the supervisor is gone (killed): stop serving
