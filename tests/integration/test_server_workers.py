"""``ledger serve --workers N``: one listening socket per worker process (api.workers)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from api import workers
from tests.support.live_server import cli_command, free_port, server_env
from tests.support.workers import WAIT_SECONDS, listeners, wait_for


def _start(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **server_env("memory://")}
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            cli_command("serve", "--port", str(port), "--workers", "2"),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_each_worker_listens_on_its_own_socket_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    server = _start(port, tmp_path / "server.log")
    try:
        # Then two sockets listen on the port (the kernel spreads connections over them)
        wait_for(lambda: listeners(port) == 2, "two listening sockets")
        answers = [httpx.get(f"http://127.0.0.1:{port}/healthz").status_code for _ in range(8)]
        assert answers == [200] * 8

        # And a second server on the same port is refused instead of sharing it silently
        second = subprocess.run(  # noqa: S603 - our own CLI
            cli_command("serve", "--port", str(port), "--workers", "2"),
            env={**os.environ, **server_env("memory://")},
            capture_output=True,
            timeout=WAIT_SECONDS,
            check=False,
        )
        assert second.returncode == 1
        assert b"cannot listen" in second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=WAIT_SECONDS) == 0
    # When the supervisor stopped, its workers stopped with it
    wait_for(lambda: listeners(port) == 0, "the workers to stop")


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    port = free_port()
    server = _start(port, tmp_path / "server.log")
    try:
        wait_for(lambda: listeners(port) == 2, "two listening sockets")
    finally:
        server.kill()
        server.wait(timeout=WAIT_SECONDS)
    wait_for(lambda: listeners(port) == 0, "orphaned workers to stop")


def test_the_supervisor_gives_up_when_workers_keep_dying() -> None:
    # Workers that cannot even import their app die at once; restarting them forever would
    # hide the failure, so after MAX_RESTARTS within the window the supervisor exits 1.
    port = free_port()
    status = workers.serve_workers(
        "tests.integration.no_such_module:create_app",
        host="127.0.0.1",
        port=port,
        workers=1,
        access_log=False,
    )

    assert status == 1
    assert listeners(port) == 0
