"""The server under load: started per setup, waited for, stopped whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, log
from bench.config import Config
from bench.pgstats import PROJECTOR_ROLE, as_role

__all__ = ["Server", "free_port", "running_peer", "running_server", "store_url"]

START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def store_url(database_url: str, config: Config) -> str:
    options = []
    if config.pool_size is not None:
        options.append(f"pool_size={config.pool_size}")
    if config.max_overflow is not None:
        options.append(f"max_overflow={config.max_overflow}")
    if not options:
        return database_url
    return f"{database_url}{'&' if '?' in database_url else '?'}{'&'.join(options)}"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    admin_key: str
    log_path: Path
    worker: subprocess.Popen[bytes] | None = None
    """The projection worker beside the ledger's server (None for the peer)."""


@contextmanager
def running_server(
    database_url: str, config: Config, workdir: Path, admin_key: str, fastio_path: str = ""
) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        LEDGER_DATABASE_URL=store_url(database_url, config),
        LEDGER_BOOTSTRAP_ADMIN_KEY=admin_key,
        LEDGER_GROUP_COMMIT="y" if config.group_commit else "n",
        LEDGER_CORK_RESPONSES="y" if config.cork else "n",
        # The per-key limit (2,000/s by default) is a policy, not capacity: raised out of
        # reach, with its middleware still running on every request.
        LEDGER_RATE_LIMIT_PER_SECOND="1000000",
        LEDGER_RATE_LIMIT_BURST="1000000",
        PYTHONUNBUFFERED="1",
    )
    if config.fast_io and fastio_path:
        # Only this server sees uvloop/httptools: `ledger serve` would pick them up too.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [fastio_path, env.get("PYTHONPATH")]))
    if not config.pre_ping:
        # eventsourcing reads LEDGER_POSTGRES_* before the store URL's POSTGRES_* defaults.
        env["LEDGER_POSTGRES_PRE_PING"] = "n"
    python = sys.executable
    ledger_cli = Path(python).parent / "ledger"
    cli = [str(ledger_cli)] if ledger_cli.exists() else [python, "-m", "api.cli"]
    if config.server == "ledger":
        cmd = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(config.workers)]
    else:
        cmd = [python, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(config.workers), "--no-access-log"]
        io = ("uvloop", "httptools") if config.fast_io else ("asyncio", "h11")
        cmd += ["--loop", io[0], "--http", io[1]]
    log_path = workdir / f"server-{config.index}.log"
    worker_log = workdir / f"project-{config.index}.log"
    # The projection worker connects as its own role: its statements are counted apart.
    projector_env = {
        **env,
        "LEDGER_DATABASE_URL": as_role(env["LEDGER_DATABASE_URL"], PROJECTOR_ROLE),
    }
    with (
        _serving(cmd, env, log_path, config.label) as process,
        _projecting([*cli, "project"], projector_env, worker_log, enabled=config.project) as worker,
    ):
        yield Server(process, f"http://127.0.0.1:{port}", admin_key, log_path, worker)


@contextmanager
def _projecting(
    cmd: list[str], env: dict[str, str], log_path: Path, *, enabled: bool
) -> Iterator[subprocess.Popen[bytes] | None]:
    """``ledger project``, the production projection worker on a PostgreSQL store: it reads
    every committed batch and writes the read models in the same cluster meanwhile."""
    if not enabled:
        yield None
        return
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)
        _report_errors(log_path, "projection worker")


@contextmanager
def running_peer(
    database_url: str, workdir: Path, api_key: str, pool: int, *, cork: bool = False
) -> Iterator[Server]:
    """The hand-written SQL peer (``bench.peer``) on the same stack: litestar on uvicorn with
    uvloop and httptools, one worker, no access log; with ``cork``, on the ledger's protocol
    that writes a response in one ``send`` (api.corking)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PEER_"))}
    env.update(
        PEER_DATABASE_URL=database_url,
        PEER_API_KEY=api_key,
        PEER_POOL_SIZE=str(pool),
        PYTHONUNBUFFERED="1",
    )
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "bench.peer:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    http = "api.corking:CorkedHttpToolsProtocol" if cork else "httptools"
    cmd += ["--loop", "uvloop", "--http", http]
    log_path = workdir / "peer.log"
    with _serving(cmd, env, log_path, "sql peer") as process:
        yield Server(process, f"http://127.0.0.1:{port}", api_key, log_path)


@contextmanager
def _serving(
    cmd: list[str], env: dict[str, str], log_path: Path, label: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` in its own session, wait until ``/healthz`` answers, stop it at exit."""
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        port = cmd[cmd.index("--port") + 1]
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(f"http://127.0.0.1:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise SystemExit(f"bench: the server did not start ({label}):\n{tail}")
            time.sleep(0.2)
        yield process
    finally:
        _stop(process)
        _report_errors(log_path, label)


ERROR_EXCERPT_CHARS = 4000


def error_excerpt(text: str) -> str | None:
    """What a server logged from its first error record on (a 500 logs its traceback), at
    most ``ERROR_EXCERPT_CHARS``; None if it logged no error."""
    starts = [i for i in (text.find(" ERROR "), text.find("Traceback")) if i >= 0]
    if not starts:
        return None
    first = text.rfind("\n", 0, min(starts)) + 1
    return text[first : first + ERROR_EXCERPT_CHARS]


def _report_errors(log_path: Path, label: str) -> None:
    """Print what the server logged as errors: the work directory and its logs are deleted
    at the end of the run, and a rare 500 is otherwise left without its cause."""
    with contextlib.suppress(OSError):
        excerpt = error_excerpt(log_path.read_text(errors="replace"))
        if excerpt is not None:
            log(f"{label} logged errors:\n{excerpt}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
