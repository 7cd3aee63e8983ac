"""A fleet for a test: API processes behind HAProxy (round robin), on one or more clusters.

The same shape as ``scripts/fleet.sh``: each ``ledger serve`` announces its own address as
``LEDGER_INTERNAL_URL`` (shard leases and forwarding), and HAProxy — Debian's package,
installed here with apt-get when missing and running as root — spreads requests over them
without any stickiness. Wallets are picked uniformly from a list, so a "zipfian" list simply
repeats the popular wallets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import free_port
from tests.support.reliability.processes import Restartable, ServerProcess

__all__ = ["Balancer", "api_processes", "haproxy_binary", "zipfian_wallets"]


def zipfian_wallets(count: int, draws: int = 200) -> tuple[list[str], list[str]]:
    """``count`` wallets and a list of ``draws`` picks where wallet ``k`` appears ~1/(k+1)."""
    wallets = [f"z-{k}" for k in range(count)]
    weights = [1 / (k + 1) for k in range(count)]
    total = sum(weights)
    picks = [w for w, weight in zip(wallets, weights, strict=True)
             for _ in range(max(1, round(draws * weight / total)))]  # fmt: skip
    return wallets, picks


def haproxy_binary() -> str:
    """HAProxy's path; installed from Debian's packages if missing (as root), else skip."""
    found = shutil.which("haproxy")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "haproxy"],  # noqa: S607
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            check=False,
            timeout=600,
        )
        found = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
    if found is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return found


def api_processes(env: Mapping[str, str], logs: Path, count: int) -> list[ServerProcess]:
    """``count`` servers, each with its own port as its internal URL; not started."""
    servers = []
    for index in range(count):
        server = ServerProcess(env, logs)
        server.name = f"serve-{index + 1}"
        server.env["LEDGER_INTERNAL_URL"] = server.url
        servers.append(server)
    return servers


class Balancer(Restartable):
    """HAProxy, round robin over ``servers``, retrying a refused connection elsewhere."""

    name = "haproxy"

    def __init__(self, servers: list[ServerProcess], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        backends = "\n".join(
            f"    server api{i} 127.0.0.1:{s.port} check inter 500ms fall 2 rise 1"
            for i, s in enumerate(servers)
        )
        config = logs / "haproxy.cfg"
        logs.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n"
            "    timeout server 60s\n    option http-keep-alive\n    retries 2\n"
            "    option redispatch\n"
            f"frontend ledger\n    bind 127.0.0.1:{self.port}\n    default_backend apis\n"
            "backend apis\n    balance roundrobin\n    option httpchk GET /healthz\n"
            f"{backends}\n"
        )
        super().__init__([haproxy_binary(), "-f", str(config), "-db"], os.environ, logs)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise self.exited_early()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("haproxy did not answer")


@contextmanager
def running(*processes: Restartable) -> Iterator[None]:
    """Start ``processes`` in order; stop them all (in reverse) afterwards."""
    started: list[Restartable] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
        yield
    finally:
        for process in reversed(started):
            process.stop()
