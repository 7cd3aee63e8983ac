"""Retries: bounded, jittered, honouring Retry-After, and never able to decide twice.

Every state-changing call carries an Idempotency-Key made when the call is built; each
retry sends that same key with the same body, so the server answers a repeat with its first
result. A write without a key is sent exactly once, whatever happens to it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from credit_ledger import (
    AsyncLedger,
    ConnectionFailed,
    Debit,
    InsufficientCredits,
    Ledger,
    Overloaded,
    RateLimited,
    RetryPolicy,
)
from credit_ledger.retry import retry_after_seconds

from tests.client.conftest import KEY
from tests.client.fakes import COMMIT_THEN_DROP, FakeLedger, problem


def refuse_connection(request: httpx.Request) -> Exception:
    return httpx.ConnectError("connection refused", request=request)


def overloaded(request: httpx.Request) -> httpx.Response:
    response = problem(503, "overloaded")
    response.headers["Retry-After"] = "1"
    return response


def test_a_debit_retried_after_failures_sends_the_same_key_and_body_every_time(
    ledger: Ledger, fake: FakeLedger, delays: list[float]
) -> None:
    fake.faults = [refuse_connection, overloaded]

    debit = ledger.debit("acme", 30, subject={"user_id": "u1"})

    sent = fake.sent("/v1/wallets/acme/debits")
    assert len(sent) == 3
    assert sent[0].key is not None
    assert {r.key for r in sent} == {sent[0].key}
    assert all(r.body == sent[0].body for r in sent)
    assert isinstance(debit, Debit)
    assert fake.balances["acme"] == 970  # decided once
    assert len(delays) == 2


def test_an_answer_lost_after_the_commit_is_replayed_not_decided_again(
    ledger: Ledger, fake: FakeLedger
) -> None:
    fake.faults = [lambda _: COMMIT_THEN_DROP]

    debit = ledger.debit("acme", 30)

    keys = [r.key for r in fake.sent("/v1/wallets/acme/debits")]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert fake.balances["acme"] == 970
    assert len(fake.debits) == 1
    assert debit.debit_id == fake.debits[0]["debit_id"]


def test_a_given_idempotency_key_is_the_one_sent(ledger: Ledger, fake: FakeLedger) -> None:
    fake.faults = [refuse_connection]

    ledger.place_hold("acme", 50, idempotency_key="order-7")

    assert [r.key for r in fake.sent("/v1/wallets/acme/holds")] == ["order-7", "order-7"]


def test_every_state_changing_call_gets_its_own_key(ledger: Ledger, fake: FakeLedger) -> None:
    ledger.debit("acme", 1)
    ledger.debit("acme", 1)

    first, second = fake.sent("/v1/wallets/acme/debits")
    assert first.key is not None
    assert second.key is not None
    assert first.key != second.key


def test_a_post_without_a_key_is_never_retried_after_a_connection_error(
    ledger: Ledger, fake: FakeLedger
) -> None:
    fake.faults = [refuse_connection]

    with pytest.raises(ConnectionFailed):
        ledger.request("POST", "/v1/wallets/acme/debits", json={"amount": 5})

    assert len(fake.requests) == 1
    assert fake.requests[0].key is None


def test_a_post_without_a_key_is_never_retried_after_a_503(
    ledger: Ledger, fake: FakeLedger
) -> None:
    fake.faults = [overloaded]

    with pytest.raises(Overloaded):
        ledger.request("POST", "/v1/wallets/acme/debits", json={"amount": 5})

    assert len(fake.requests) == 1


def test_issuing_an_api_key_is_never_retried(ledger: Ledger, fake: FakeLedger) -> None:
    fake.faults = [refuse_connection]

    with pytest.raises(ConnectionFailed):
        ledger.create_api_key(["service"])

    assert len(fake.sent("/v1/api-keys")) == 1


def test_a_keyed_raw_post_is_retried_with_its_key(ledger: Ledger, fake: FakeLedger) -> None:
    fake.faults = [refuse_connection]

    ledger.request("POST", "/v1/wallets/acme/debits", json={"amount": 5}, idempotency_key="k1")

    assert [r.key for r in fake.requests] == ["k1", "k1"]
    assert fake.balances["acme"] == 995


def test_retry_after_is_waited_out_before_the_retry(
    ledger: Ledger, fake: FakeLedger, delays: list[float]
) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate_limited", retry_after_seconds=2)
        response.headers["Retry-After"] = "2"
        return response

    fake.faults = [limited]

    ledger.debit("acme", 5)

    assert len(delays) == 1
    assert 2.0 <= delays[0] <= 2.0 + RetryPolicy().backoff


def test_retries_are_bounded_and_then_the_error_is_raised(
    fake: FakeLedger, delays: list[float]
) -> None:
    fake.faults = [overloaded] * 10
    ledger = Ledger("http://ledger.test", KEY, retries=2, transport=fake.transport())
    with ledger, pytest.raises(Overloaded) as raised:
        ledger.debit("acme", 5)

    assert len(fake.requests) == 3
    assert len(delays) == 2
    assert raised.value.status == 503
    assert fake.balances.get("acme") is None


def test_a_retry_after_beyond_the_policy_is_not_waited_for(
    fake: FakeLedger, delays: list[float]
) -> None:
    def far(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate_limited", retry_after_seconds=600)
        response.headers["Retry-After"] = "600"
        return response

    fake.faults = [far]
    policy = RetryPolicy(retries=3, max_retry_after=30)
    ledger = Ledger("http://ledger.test", KEY, retries=policy, transport=fake.transport())
    with ledger, pytest.raises(RateLimited) as raised:
        ledger.debit("acme", 5)

    assert raised.value.retry_after_seconds == 600
    assert delays == []
    assert len(fake.requests) == 1


def test_a_refusal_is_never_retried(ledger: Ledger, fake: FakeLedger) -> None:
    with pytest.raises(InsufficientCredits):
        ledger.debit("acme", 5000)

    assert len(fake.requests) == 1


def test_reads_are_retried_after_connection_errors(ledger: Ledger, fake: FakeLedger) -> None:
    fake.faults = [refuse_connection, refuse_connection]

    ledger.list_wallets()

    assert len(fake.sent("/v1/wallets", "GET")) == 3


def test_the_async_client_retries_with_the_same_key(fake: FakeLedger, delays: list[float]) -> None:
    fake.faults = [refuse_connection, overloaded]

    async def run() -> None:
        async with AsyncLedger("http://ledger.test", KEY, transport=fake.transport()) as ledger:
            await ledger.debit("acme", 30)
            fake.faults = [refuse_connection]
            with pytest.raises(ConnectionFailed):
                await ledger.request("POST", "/v1/wallets/acme/debits", json={"amount": 1})

    asyncio.run(run())

    debits = fake.sent("/v1/wallets/acme/debits")
    assert len(debits) == 4
    assert len({r.key for r in debits[:3]}) == 1
    assert debits[3].key is None
    assert len(delays) == 2
    assert fake.balances["acme"] == 970


def test_jittered_delays_grow_and_stay_under_the_cap() -> None:
    policy = RetryPolicy(retries=5, backoff=0.1, max_backoff=0.25)

    assert policy.delay(0, None, rand=lambda: 1.0) == pytest.approx(0.1)
    assert policy.delay(1, None, rand=lambda: 1.0) == pytest.approx(0.2)
    assert policy.delay(2, None, rand=lambda: 1.0) == pytest.approx(0.25)
    assert policy.delay(2, None, rand=lambda: 0.5) == pytest.approx(0.125)
    assert policy.delay(1, 3.0, rand=lambda: 0.0) == pytest.approx(3.0)
    assert policy.delay(5, None) is None


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 31 Dec 2025 23:59:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
