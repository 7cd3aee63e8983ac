"""Processes a reliability test may kill: ``ledger serve`` and ``ledger project``.

Unlike :mod:`tests.support.live_server`, whose context managers own a process for one
block, these keep a port and an environment across restarts: the server comes back on the
same address after a SIGKILL, so clients simply retry. Output goes to files (never pipes that
could fill up), one per start.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.live_server import REPO_ROOT, cli_command, free_port

__all__ = ["Restartable", "ServerProcess", "WorkerProcess", "rss_kib"]

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0


def rss_kib(pid: int) -> int:
    """Resident set size of a process (``VmRSS`` of ``/proc/<pid>/status``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


class Restartable:
    """A command started, SIGKILLed and started again with the same environment."""

    name = "process"

    def __init__(self, command: list[str], env: Mapping[str, str], logs: Path) -> None:
        self.command = command
        self.env = dict(env)
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        logs.mkdir(parents=True, exist_ok=True)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_path(self) -> Path:
        return self.logs / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log_path().open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
                self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        """Return once the process serves; raise if it exits or takes too long."""

    def exited_early(self) -> RuntimeError:
        return RuntimeError(f"{self.name} exited:\n{self.log_path().read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in an OOM kill or a power cut of the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_SECONDS)
        self.kills += 1

    def restart(self) -> None:
        """SIGKILL, then start again at once."""
        self.kill()
        self.start()

    def stop(self) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it hangs; the exit status, None if not running."""
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_SECONDS)
            return None


class ServerProcess(Restartable):
    """``ledger serve`` on one port for its whole life."""

    name = "serve"

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = cli_command("serve", "--host", "127.0.0.1", "--port", str(self.port))
        super().__init__(command, env, logs)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise self.exited_early()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"ledger serve was not ready in {START_TIMEOUT_SECONDS} s")


class WorkerProcess(Restartable):
    """``ledger project``: ready as soon as it runs (catching up is checked by the caller)."""

    name = "project"

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        super().__init__(cli_command("project"), env, logs)

    def wait_ready(self) -> None:
        time.sleep(0.5)
        assert self.process is not None
        if self.process.poll() is not None:
            raise self.exited_early()
