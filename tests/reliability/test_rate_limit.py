"""Per-key rate limits: token buckets on an injected clock, and the 429 the API answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.middleware.rate_limit import RATE_LIMITER_KEY, TokenBuckets, rate_limiter
from api.settings import Settings
from tests.support.api import Api, assert_problem, running_api

pytestmark = pytest.mark.reliability


class FakeMonotonic:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_passes_then_the_rate_applies() -> None:
    clock = FakeMonotonic()
    buckets = TokenBuckets(rate_per_second=2, burst=3, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [None, None, None]
    assert buckets.take("k") == 1
    clock.advance(0.5)  # one token back at 2/s
    assert buckets.take("k") is None
    assert buckets.take("k") == 1


def test_retry_after_is_whole_seconds_until_a_token_is_back() -> None:
    clock = FakeMonotonic()
    buckets = TokenBuckets(rate_per_second=0.1, burst=1, clock=clock)
    assert buckets.take("k") is None
    assert buckets.take("k") == 10
    clock.advance(9.5)
    assert buckets.take("k") == 1  # half a second left rounds up, never to 0
    clock.advance(0.5)
    assert buckets.take("k") is None


def test_keys_have_separate_buckets() -> None:
    buckets = TokenBuckets(rate_per_second=1, burst=1, clock=FakeMonotonic())
    assert buckets.take("a") is None
    assert buckets.take("a") == 1
    assert buckets.take("b") is None


def test_a_bucket_never_holds_more_than_the_burst() -> None:
    clock = FakeMonotonic()
    buckets = TokenBuckets(rate_per_second=100, burst=2, clock=clock)
    buckets.take("k")
    clock.advance(3600)
    assert [buckets.take("k") for _ in range(3)] == [None, None, 1]


def test_a_clock_stepping_back_does_not_drain_the_bucket() -> None:
    clock = FakeMonotonic()
    buckets = TokenBuckets(rate_per_second=1, burst=2, clock=clock)
    buckets.take("k")
    clock.advance(-50)
    assert buckets.take("k") is None


def test_the_map_of_buckets_is_bounded() -> None:
    buckets = TokenBuckets(rate_per_second=1, burst=1, clock=FakeMonotonic(), max_keys=100)
    for n in range(1000):
        buckets.take(f"key-{n}")
    assert len(buckets) == 100


def test_a_rate_of_zero_switches_limiting_off() -> None:
    assert rate_limiter(Settings(database_url="memory://", rate_limit_per_second=0)) is None


def test_defaults_leave_room_for_the_benchmark() -> None:
    buckets = rate_limiter(Settings(database_url="memory://"))
    assert buckets is not None
    assert (buckets.rate_per_second, buckets.burst) == (2000, 4000)


@pytest.fixture
def limited() -> Iterator[tuple[Api, FakeMonotonic]]:
    clock = FakeMonotonic()
    with running_api() as api:
        api.client.app.state[RATE_LIMITER_KEY] = TokenBuckets(1, 2, clock)
        yield api, clock


def test_answers_429_with_retry_after_once_a_key_is_out_of_tokens(
    limited: tuple[Api, FakeMonotonic],
) -> None:
    api, clock = limited
    assert [api.get("/v1/admin/projections").status_code for _ in range(2)] == [200, 200]
    refused = api.get("/v1/admin/projections")
    problem = assert_problem(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "1"
    assert problem["retry_after_seconds"] == 1
    clock.advance(1)
    assert api.get("/v1/admin/projections").status_code == 200


def test_a_refused_write_records_nothing(limited: tuple[Api, FakeMonotonic]) -> None:
    api, _ = limited
    api.funded_wallet()  # the two tokens: open and grant
    before = api.ledger.recorder.max_notification_id()
    refused = api.post("/v1/wallets/acme/debits", {"amount": 1})
    assert_problem(refused, 429, "rate_limited")
    assert api.ledger.recorder.max_notification_id() == before


def test_requests_without_a_key_are_not_counted(limited: tuple[Api, FakeMonotonic]) -> None:
    api, _ = limited
    assert {api.get("/healthz", key=None).status_code for _ in range(10)} == {200}
    assert {api.get("/v1/journal", key=None).status_code for _ in range(5)} == {401}
    assert api.get("/v1/admin/projections").status_code == 200
