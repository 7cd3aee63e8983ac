"""Fixtures of the client tests.

* ``fake`` / ``ledger``: a fake ledger behind ``httpx.MockTransport`` and a client of it
  that records its retry delays instead of sleeping them;
* ``server`` / ``admin``: a real ``ledger serve`` process (SQLite and Postgres, the test
  runs on each) and an admin client of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import credit_ledger.aio
import credit_ledger.client
import pytest
from credit_ledger import Ledger

from tests.client.fakes import FakeLedger
from tests.support.live_server import (
    TEST_ADMIN_KEY,
    LiveServer,
    live_server,
    pg_store_url,
    projection_worker,
    server_env,
)

KEY = "test-key-0123456789abcdef0123456789"


@pytest.fixture
def fake() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every retry delay the clients asked for, instead of sleeping it."""
    waited: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(credit_ledger.client, "_sleep", waited.append)
    monkeypatch.setattr(credit_ledger.aio, "_sleep", async_sleep)
    return waited


@pytest.fixture
def ledger(fake: FakeLedger, delays: list[float]) -> Iterator[Ledger]:
    with Ledger("http://ledger.test", KEY, transport=fake.transport()) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The event store of a real server: an SQLite file, or a fresh Postgres schema (which,
    like every Postgres test, fails rather than skips in CI without a database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return pg_store_url(postgres_url, request.getfixturevalue("pg_schema"))


@contextmanager
def serving(store_url: str, logs: Path, port: int | None = None) -> Iterator[LiveServer]:
    """``ledger serve`` on ``store_url``; on Postgres with a ``ledger project`` beside it
    (the API process keeps the read models itself only on SQLite)."""
    env = server_env(store_url)
    with live_server(env, logs, port=port) as running:
        if not store_url.startswith("postgresql"):
            yield running
            return
        with projection_worker(env, logs):
            yield running


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with serving(store_url, tmp_path / "logs") as running:
        yield running


@pytest.fixture
def admin(server: LiveServer) -> Iterator[Ledger]:
    """A client of the real server with the admin key."""
    with Ledger(server.url, TEST_ADMIN_KEY, timeout=30.0) as client:
        yield client
