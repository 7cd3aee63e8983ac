"""The delivery worker on a fake clock: signing, the backoff schedule, retries, giving up."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from ledger.app.alerting import DeleteWebhook
from ledger.app.commands import Debit
from projections.alerts import delivery as alerts_delivery
from projections.alerts.delivery import DeliveryPolicy, backoff, sign
from projections.alerts.outbox import log_row
from tests.support.alerts import SECRET, Harness, harness
from tests.support.builders import open_funded_wallet

URL = "http://receiver.invalid/hook"


@dataclass
class FakeSender:
    """Answers with ``statuses`` in turn (then 204); remembers every request."""

    statuses: list[int | Exception] = field(default_factory=list)
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        del timeout
        self.sent.append((url, body, headers))
        answer = self.statuses.pop(0) if self.statuses else 204
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        running.webhook("ops", URL)
        running.budget()
        running.ledger.debit(Debit(wallet_id="acme", amount=600))
        running.project()
        yield running


@pytest.fixture
def two(h: Harness) -> Harness:
    """The harness with one more alert, so two deliveries are due to ``ops``."""
    h.settings("acme", low=10_000)
    h.ledger.debit(Debit(wallet_id="acme", amount=1))  # the balance falls below 10,000
    h.project()
    assert len(h.alerts()) == 2
    return h


def status_of(h: Harness, webhook_id: str) -> list[str]:
    with h.views.read() as tx:
        rows = tx.all(
            "SELECT status FROM alert_deliveries WHERE webhook_id = ? ORDER BY alert_id",
            (webhook_id,),
        )
    return [str(status) for (status,) in rows]


def test_the_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = DeliveryPolicy(base_seconds=1.0, cap_seconds=600.0)

    delays = [backoff(n, policy).total_seconds() for n in range(1, 13)]

    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert backoff(1000, policy) == timedelta(minutes=10)


def test_the_backoff_base_and_cap_are_configurable() -> None:
    policy = DeliveryPolicy(base_seconds=0.5, cap_seconds=3.0)

    assert [backoff(n, policy).total_seconds() for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"x"}'

    header = sign("s3cret-s3cret-s3cret", 1767225600, body)

    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1767225600." + body, hashlib.sha256)
    assert header == f"t=1767225600,v1={expected.hexdigest()}"


def test_a_delivery_is_a_signed_post_of_id_type_occurred_at_and_data(h: Harness) -> None:
    sender = FakeSender()

    h.delivery(send=sender).tick()

    ((url, body, headers),) = sender.sent
    payload = json.loads(body)
    assert url == URL
    assert set(payload) == {"id", "type", "occurred_at", "data"}
    assert payload["id"] == "budget.threshold_crossed:acme:b:2026-01-01T00:00:00Z:0.5"
    assert payload["type"] == "budget.threshold_crossed"
    assert payload["occurred_at"] == "2026-01-01T00:00:00Z"
    assert headers["Content-Type"] == "application/json"
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", headers["Ledger-Signature"])
    assert match is not None
    assert int(match[1]) == int(h.clock().timestamp())
    assert (
        match[2] == hmac.new(SECRET.encode(), f"{match[1]}.".encode() + body, "sha256").hexdigest()
    )


def test_failures_are_retried_on_the_backoff_schedule_until_delivered(h: Harness) -> None:
    sender = FakeSender([500, ConnectionRefusedError("refused"), 503])
    worker = h.delivery(send=sender, jitter=0)  # the schedule itself (jitter: test_webhooks_*)

    tried = [worker.tick()]  # attempt 1 (500): next in 1 s
    tried.append(worker.tick())  # not due yet
    h.clock.advance(seconds=1)
    tried.append(worker.tick())  # attempt 2 (refused): next in 2 s
    h.clock.advance(seconds=1)
    tried.append(worker.tick())  # not due yet
    h.clock.advance(seconds=1)
    tried.append(worker.tick())  # attempt 3 (503): next in 4 s
    h.clock.advance(seconds=4)
    tried.append(worker.tick())  # attempt 4: delivered
    h.clock.advance(hours=1)
    tried.append(worker.tick())  # nothing left

    assert tried == [1, 0, 1, 0, 1, 1, 0]
    log = h.log("ops")
    assert [(e["attempt"], e["status"]) for e in log] == [
        (0, "pending"),
        (1, "retrying"),
        (2, "retrying"),
        (3, "retrying"),
        (4, "delivered"),
    ]
    assert [e["response_status"] for e in log[1:]] == [500, None, 503, 204]
    assert "ConnectionRefusedError" in str(log[2]["error"])
    gaps = [e["next_attempt_at"] - e["attempted_at"] for e in log[1:4]]
    assert gaps == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4)]
    assert len({body for _, body, _ in sender.sent}) == 1  # the same payload every time


def test_a_delivery_older_than_the_max_age_fails_for_good(h: Harness) -> None:
    sender = FakeSender([500] * 10)
    worker = h.delivery(send=sender, max_age=timedelta(seconds=10), cap_seconds=8)

    for _ in range(6):
        worker.tick()
        h.clock.advance(seconds=8)

    statuses = [e["status"] for e in h.log("ops")]
    assert statuses[-1] == "failed"
    assert statuses.count("failed") == 1
    assert len(sender.sent) == statuses.count("retrying") + 1


def test_deleting_a_webhook_gives_up_its_queued_deliveries_without_sending(h: Harness) -> None:
    sender = FakeSender()
    h.alerting.delete_webhook(DeleteWebhook(webhook_id="ops"))
    h.project()

    h.delivery(send=sender).tick()

    assert sender.sent == []
    assert [e["status"] for e in h.log("ops")] == ["pending", "failed"]


def test_a_receivers_nul_bytes_never_reach_the_recorded_error(h: Harness) -> None:
    # PostgreSQL text refuses NUL: recording it would fail and retry this delivery forever
    sender = FakeSender([http.client.BadStatusLine("\x00BAD 200 OK" + "x" * 1000)])

    assert h.delivery(send=sender).tick() == 1

    last = h.log("ops")[-1]
    assert (last["attempt"], last["status"]) == (1, "retrying")
    error = str(last["error"])
    assert error.startswith("BadStatusLine: ")
    assert "\x00" not in error
    assert len(error) <= alerts_delivery.MAX_ERROR


def test_an_item_that_cannot_be_recorded_does_not_stop_the_next(
    two: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = FakeSender()
    calls = []

    def fail_first(*args: object, **kwargs: object) -> None:
        calls.append(kwargs["alert_id"])
        if len(calls) == 1:
            raise RuntimeError("the database refused the row")
        log_row(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(alerts_delivery, "log_row", fail_first)

    assert two.delivery(send=sender).tick() == 2

    assert len(sender.sent) == 2
    assert sorted(status_of(two, "ops")) == ["delivered", "pending"]  # the first rolled back


def test_a_late_attempt_of_another_worker_cannot_undo_a_delivery(h: Harness) -> None:
    second = h.delivery(send=FakeSender())

    def slow_then_500(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        # while the first worker waits past its lease, the second one claims and delivers
        h.clock.advance(hours=1)
        assert second.tick() == 1
        return 500

    h.delivery(send=slow_then_500).tick()

    assert status_of(h, "ops") == ["delivered"]
    assert h.delivery(send=FakeSender()).tick() == 0  # nothing is due again


def test_the_lease_covers_a_whole_batch_of_sends(two: Harness) -> None:
    policy = {"timeout_seconds": 60.0}  # longer than the margin
    start = two.clock()
    second = two.delivery(send=FakeSender(), **policy)
    claimed = []
    leases: list[datetime] = []

    def slow(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        with two.views.read() as tx:
            rows = tx.all("SELECT next_attempt_at FROM alert_deliveries WHERE status = 'pending'")
            leases.extend(tx.dialect.from_db(value) for (value,) in rows)
        two.clock.advance(seconds=timeout)  # every send takes its whole timeout
        claimed.append(second.tick())
        return 204

    assert two.delivery(send=slow, **policy).tick() == 2

    assert claimed == [0, 0]  # the second worker never got a row the first still held
    assert min(leases) > start + timedelta(seconds=2 * 60)  # both sends, and a margin
    assert status_of(two, "ops") == ["delivered", "delivered"]


def test_a_set_stop_ends_the_round_between_items(two: Harness) -> None:
    stop = threading.Event()
    sent = []

    def stopping(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        sent.append(body)
        stop.set()  # a shutdown arrives while the first item is being sent
        return 204

    worker = two.delivery(send=stopping)

    assert worker.tick(stop) == 1
    assert len(sent) == 1
    assert sorted(status_of(two, "ops")) == ["delivered", "pending"]
    two.clock.advance(minutes=5)  # the lease ran out: the unsent one is due again
    assert worker.tick() == 1
    assert status_of(two, "ops") == ["delivered", "delivered"]
