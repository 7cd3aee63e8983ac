"""A real ``ledger serve`` process on a free port, for tests that talk over a socket.

:func:`live_server` starts ``python -m api.cli serve`` (what ``make run`` ends in) with the
current interpreter, waits until ``/healthz`` answers, and always stops the process. Its
standard output (the banner) and error (uvicorn's log) go to files, never to pipes that could
fill up and stall the server.

:func:`projection_worker` starts ``ledger project`` beside it on the same store (what the
``projections`` service of docker-compose.yml runs): on PostgreSQL the API does not keep the
read models current itself. It is handed over once its heartbeat shows in the views
(``status`` of every projection ``running``), is stopped with SIGTERM and must exit 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from projections.entrypoints import status

__all__ = [
    "REPO_ROOT",
    "TEST_ADMIN_KEY",
    "LiveServer",
    "ProjectionWorker",
    "cli_command",
    "free_port",
    "live_server",
    "pg_store_url",
    "projection_worker",
    "server_env",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_ADMIN_KEY = "live-server-admin-key-0123456789abcdef"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pg_store_url(postgres_url: str, schema: str) -> str:
    """The store URL of a test schema in the test database."""
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}"


def cli_command(*args: str) -> list[str]:
    """``ledger ARGS...`` run by the current interpreter (installed or not)."""
    return [sys.executable, "-m", "api.cli", *args]


def server_env(database_url: str, admin_key: str | None = TEST_ADMIN_KEY) -> dict[str, str]:
    """This process's environment without ``LEDGER_*`` settings, plus a store and a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    if admin_key is not None:
        env["LEDGER_BOOTSTRAP_ADMIN_KEY"] = admin_key
    return env


@dataclass(frozen=True)
class LiveServer:
    """A running server: where it listens and what it printed so far."""

    url: str
    port: int
    env: Mapping[str, str]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_SECONDS)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> bool:
    """True once ``/healthz`` answers 200; False if the process exits first."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} did not become healthy in {START_TIMEOUT_SECONDS} s")


@contextmanager
def live_server(
    env: Mapping[str, str], logs: Path, attempts: int = 3, port: int | None = None
) -> Iterator[LiveServer]:
    """``ledger serve`` on a free port with ``env``; stopped (SIGTERM, then kill) on exit.

    A start that exits early (most likely the port was taken between probing and binding) is
    retried on another port, ``attempts`` times in all. A given ``port`` is used for every
    attempt (a restart that clients must find at the same address).
    """
    logs.mkdir(parents=True, exist_ok=True)
    fixed_port = port
    for attempt in range(1, attempts + 1):
        port = fixed_port or free_port()
        url = f"http://127.0.0.1:{port}"
        out, err = logs / f"serve-{attempt}.out", logs / f"serve-{attempt}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
                cli_command("serve", "--host", "127.0.0.1", "--port", str(port)),
                cwd=REPO_ROOT,
                env=dict(env),
                stdout=stdout,
                stderr=stderr,
            )
        try:
            if _wait_until_healthy(process, url):
                yield LiveServer(url, port, env, out, err)
                return
        finally:
            _stop(process)
        if attempt == attempts:
            raise RuntimeError(
                f"ledger serve exited with {process.returncode}:\n{err.read_text()[-4000:]}"
            )


@dataclass(frozen=True)
class ProjectionWorker:
    """A running ``ledger project`` process and where its output goes."""

    process: subprocess.Popen[bytes]
    output_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.output_path.read_text()


def _wait_until_projecting(
    process: subprocess.Popen[bytes], database_url: str, output: Path
) -> bool:
    """True once this worker said it handles SIGTERM (its first line) and every projection
    reports ``running`` (rows an earlier worker left say so at once, hence the line too);
    False if the process exits first."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        ready = "stop with SIGINT or SIGTERM" in output.read_text(errors="replace")
        if ready and {entry["status"] for entry in status(database_url)} == {"running"}:
            return True
        time.sleep(0.1)
    raise TimeoutError(f"ledger project did not start in {START_TIMEOUT_SECONDS} s")


@contextmanager
def projection_worker(env: Mapping[str, str], logs: Path) -> Iterator[ProjectionWorker]:
    """``ledger project`` on the store of ``env``, once running; stopped with SIGTERM on exit.

    Raises:
        RuntimeError: The worker exited early, or did not exit 0 (checked when the block
            itself succeeded).
    """
    logs.mkdir(parents=True, exist_ok=True)
    output = logs / "project.out"
    with output.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
            cli_command("project"),
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        if not _wait_until_projecting(process, env["LEDGER_DATABASE_URL"], output):
            raise RuntimeError(f"ledger project exited early:\n{output.read_text()[-4000:]}")
        yield ProjectionWorker(process, output)
    finally:
        _stop(process)
    if process.returncode != 0:
        raise RuntimeError(
            f"ledger project exited with {process.returncode}:\n{output.read_text()[-4000:]}"
        )
