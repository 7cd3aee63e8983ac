"""A PostgreSQL cluster owned by one test, which may crash it (``pg_ctl stop -m immediate``).

The shared test database (``LEDGER_TEST_DATABASE_URL``) serves other tests at the same time,
so a test that kills PostgreSQL starts its own cluster, exactly as ``scripts/_postgres.sh``
does (initdb in a temporary directory, trust auth, a free 127.0.0.1 port, run as the
``postgres`` OS user when root), and keeps its port across restarts so that the server's
``LEDGER_DATABASE_URL`` stays valid.

``fsync`` is off as in the other test clusters: an immediate shutdown is a crash of PostgreSQL
alone, which loses nothing that was committed (the WAL is in the OS's page cache); only an OS
crash or power loss would need fsync.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.live_server import free_port

__all__ = ["Cluster", "find_pg_bin", "throwaway_cluster"]

DATABASE = "ledger_reliability"


def find_pg_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl`` (as ``scripts/_postgres.sh`` finds it)."""
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"],  # noqa: S607 - looked up on PATH on purpose
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name or 0)
    )
    if versions and (versions[-1] / "initdb").exists():
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    """One throwaway cluster: start, crash (immediate stop), start again, on one port."""

    def __init__(self, pg_bin: Path, root: Path) -> None:
        self.pg_bin = pg_bin
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.crashes = 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
            _as_postgres([str(self.pg_bin / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            log = (self.root / "postgres.log").read_text() if self.data.exists() else ""
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}{done.stderr}\n{log[-3000:]}")

    def create(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
            " -c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def crash(self) -> None:
        """Stop at once, as a crash would: no checkpoint; the next start replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.crashes += 1

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603 - PostgreSQL's own tool
                _as_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-m",
                              "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A started cluster with an empty database; stopped and deleted afterwards.

    Skips (locally) or fails (in CI) when PostgreSQL's server binaries are not installed.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # the postgres user.
    root = Path(tempfile.mkdtemp(prefix="ledger-reliability-pg."))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(pg_bin, root)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()
