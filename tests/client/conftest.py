"""Fixtures of the client tests: a fake ledger behind ``httpx.MockTransport`` and clients
that talk to it without waiting out their retry delays (the delays are recorded instead)."""

from __future__ import annotations

from collections.abc import Iterator

import credit_ledger.aio
import credit_ledger.client
import pytest
from credit_ledger import Ledger

from tests.client.fakes import FakeLedger

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
