"""Holds as context managers: always captured or released, never left hanging."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from credit_ledger import AsyncLedger, Capture, InsufficientCredits, Ledger, Usage

from tests.client.conftest import KEY
from tests.client.fakes import FakeLedger, problem


class ModelFailed(Exception):
    pass


def test_a_captured_hold_is_not_released_on_leaving(ledger: Ledger, fake: FakeLedger) -> None:
    with ledger.hold("acme", 50, subject={"user_id": "u1"}) as h:
        captured = h.capture(30)

    assert isinstance(captured, Capture)
    assert captured.captured == 30
    assert fake.holds[h.hold_id or ""]["status"] == "captured"
    assert fake.sent(f"/v1/wallets/acme/holds/{h.hold_id}/release") == []
    assert fake.balances["acme"] == 970


def test_leaving_without_a_capture_releases_the_hold(ledger: Ledger, fake: FakeLedger) -> None:
    with ledger.hold("acme", 50) as h:
        assert fake.balances["acme"] == 950

    assert fake.holds[h.hold_id or ""]["status"] == "released"
    assert fake.balances["acme"] == 1000


def test_an_exception_in_the_block_releases_the_hold_and_propagates(
    ledger: Ledger, fake: FakeLedger
) -> None:
    with pytest.raises(ModelFailed), ledger.hold("acme", usage=Usage(model="gpt-4.1")) as h:
        raise ModelFailed

    assert fake.holds[h.hold_id or ""]["status"] == "released"
    assert fake.balances["acme"] == 1000


def test_a_refused_hold_does_not_run_the_block(ledger: Ledger, fake: FakeLedger) -> None:
    ran = []
    with pytest.raises(InsufficientCredits), ledger.hold("acme", 5000):
        ran.append(True)

    assert ran == []
    assert fake.holds == {}


def test_a_hold_is_resolved_once(ledger: Ledger) -> None:
    with ledger.hold("acme", 50) as h:
        h.capture(10)
        with pytest.raises(RuntimeError, match="already"):
            h.release()


def test_a_failed_release_does_not_hide_the_blocks_exception(
    ledger: Ledger, fake: FakeLedger, caplog: pytest.LogCaptureFixture
) -> None:
    def down(request: httpx.Request) -> Exception:
        return httpx.ConnectError("down", request=request)

    def call_the_model_while_the_ledger_goes_down() -> None:
        with ledger.hold("acme", 50):
            fake.faults = [down] * 10
            raise ModelFailed

    with pytest.raises(ModelFailed) as raised:
        call_the_model_while_the_ledger_goes_down()

    assert any("releasing hold" in note for note in raised.value.__notes__)
    assert "released when it expires" in caplog.text
    assert [hold["status"] for hold in fake.holds.values()] == ["open"]


def test_a_hold_that_expired_meanwhile_leaves_quietly(
    ledger: Ledger, fake: FakeLedger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with ledger.hold("acme", 50):
        fake.faults = [lambda _: problem(409, "hold_not_open", hold_status="expired")]

    assert caplog.text == ""


def test_async_holds_release_on_exceptions_and_not_after_capture(fake: FakeLedger) -> None:
    async def run() -> tuple[str | None, str | None]:
        async with AsyncLedger("http://ledger.test", KEY, transport=fake.transport()) as ledger:
            async with ledger.hold("acme", 50) as captured:
                await captured.capture(20)
            with pytest.raises(ModelFailed):
                async with ledger.hold("acme", 50) as failed:
                    raise ModelFailed
        return captured.hold_id, failed.hold_id

    captured_id, failed_id = asyncio.run(run())

    assert fake.holds[captured_id or ""]["status"] == "captured"
    assert fake.holds[failed_id or ""]["status"] == "released"
    assert fake.balances["acme"] == 980
