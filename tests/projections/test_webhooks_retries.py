"""Webhook deliveries as receivers expect them (contract 1.1): Standard Webhooks signatures a
library verifies, jittered backoff, ``Retry-After`` honoured, 410 Gone disables the webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook as StandardWebhook

from ledger.app.alerting import Alerting, PutWebhook
from ledger.app.commands import Debit
from projections.alerts.delivery import AlertDelivery, DeliveryPolicy, Sender, backoff
from projections.alerts.http import Answer, post_json, retry_after, standard_key
from tests.support.alerts import ALL_TYPES, SECRET, Harness, harness
from tests.support.api import running_api
from tests.support.builders import FakeClock, open_funded_wallet

URL = "http://receiver.invalid/hook"


@pytest.fixture
def h() -> Iterator[Harness]:
    # Real time: a Standard Webhooks library refuses timestamps more than 5 minutes off.
    with harness(clock=FakeClock(datetime.now(UTC).replace(microsecond=0))) as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        running.webhook("ops", URL)
        running.budget()
        running.ledger.debit(Debit(wallet_id="acme", amount=600))  # one alert: 50% of budget
        running.project()
        yield running


@contextmanager
def answering(status: int, headers: dict[str, str] | None = None) -> Iterator[list[Any]]:
    """A real HTTP receiver on 127.0.0.1 answering ``status``; yields what it received
    (``(url, headers, body)``), its URL first."""
    seen: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((dict(self.headers.items()), body))
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield [f"http://127.0.0.1:{server.server_address[1]}/hook", seen]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_standard_webhooks_library_verifies_every_delivery(h: Harness) -> None:
    with answering(204) as (url, seen):
        h.webhook("ops", url)
        h.project()
        h.delivery().tick()

    ((received, body),) = seen
    headers = {name.lower(): value for name, value in received.items()}  # names are any case
    verified = StandardWebhook(standard_key(SECRET)).verify(body, headers)
    assert verified == json.loads(body)
    assert headers["webhook-id"] == json.loads(body)["id"]
    assert int(headers["webhook-timestamp"]) == int(h.clock().timestamp())
    assert headers["ledger-signature"].startswith(f"t={headers['webhook-timestamp']},v1=")


def test_a_tampered_delivery_does_not_verify(h: Harness) -> None:
    sent: list[tuple[bytes, dict[str, str]]] = []

    def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        sent.append((body, headers))
        return 204

    h.delivery(send=send).tick()

    ((body, headers),) = sent
    with pytest.raises(Exception, match="signature"):
        StandardWebhook(standard_key(SECRET)).verify(body.replace(b"600", b"900"), headers)


def test_retries_are_jittered_below_the_exponential_delay() -> None:
    policy = DeliveryPolicy(base_seconds=1.0, cap_seconds=600.0, jitter=0.5)

    assert backoff(3, policy, 0.0) == timedelta(seconds=4)
    assert backoff(3, policy, 0.5) == timedelta(seconds=3)
    assert backoff(20, policy, 0.999) > timedelta(seconds=300)


def test_workers_spread_their_retries(h: Harness) -> None:
    draws = iter([0.0, 0.9])
    delays = []
    for _ in range(2):
        with h.views.write() as tx:
            tx.execute("UPDATE alert_deliveries SET status = 'pending', attempts = 0")
        worker = h.delivery(send=lambda *_: 500)
        worker.draw = lambda: next(draws)
        worker.tick()
        last = h.log("ops")[-1]
        delays.append(last["next_attempt_at"] - last["attempted_at"])
        h.clock.advance(hours=1)

    assert delays == [timedelta(seconds=1), timedelta(seconds=0.55)]


@pytest.mark.parametrize(
    ("header", "wait"),
    [("120", timedelta(seconds=120)), ("0", timedelta(seconds=1)), (None, timedelta(seconds=1))],
)
def test_retry_after_is_honoured_when_longer_than_the_backoff(
    h: Harness, header: str | None, wait: timedelta
) -> None:
    worker = h.delivery(send=lambda *_: Answer(503, header), jitter=0)

    worker.tick()

    last = h.log("ops")[-1]
    assert (last["status"], last["response_status"]) == ("retrying", 503)
    assert last["next_attempt_at"] - last["attempted_at"] == wait


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    assert retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now) == timedelta(minutes=2)
    assert retry_after("soon", now) is None


def test_the_http_sender_reads_retry_after_from_the_answer() -> None:
    with answering(429, {"Retry-After": "30"}) as (url, _):
        answer = post_json(url, b"{}", {"Content-Type": "application/json"}, 5.0)

    assert answer == Answer(429, "30")


def _disabling(h: Harness, send: Sender) -> AlertDelivery:
    """A worker that disables a webhook answering 410, as the service's are."""
    worker = h.delivery(send=send)
    worker.on_gone = h.alerting.on_gone
    return worker


def test_410_gone_disables_the_webhook_until_it_is_put_again(h: Harness) -> None:
    sent: list[str] = []

    def gone(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        sent.append(url)
        return 410

    _disabling(h, gone).tick()
    disabled = h.alerting.webhook("ops")
    h.project()
    h.ledger.debit(Debit(wallet_id="acme", amount=300))  # crosses nothing new, but...
    h.settings("acme", low=10_000)  # ...this alert would go to an active webhook
    h.project()
    _disabling(h, gone).tick()
    log = h.log("ops")
    again = h.alerting.put_webhook(
        PutWebhook(webhook_id="ops", url=URL, secret=SECRET, events=ALL_TYPES)
    ).body

    assert sent == [URL]  # nothing more was sent once it said 410
    assert (disabled["status"], disabled["disabled_reason"]) == (
        "disabled",
        "the endpoint answered 410 Gone",
    )
    assert [(e["status"], e["response_status"]) for e in log] == [
        ("pending", None),
        ("failed", 410),
    ]
    assert "410 Gone" in str(log[1]["error"])
    assert (again["status"], again["created"]) == ("active", False)


def test_a_410_from_an_old_url_does_not_disable_the_new_one(h: Harness) -> None:
    h.alerting.put_webhook(
        PutWebhook(webhook_id="ops", url="http://new.invalid/hook", secret=SECRET, events=ALL_TYPES)
    )

    h.alerting.on_gone("ops", URL)

    assert h.alerting.webhook("ops")["status"] == "active"


def test_the_api_shows_a_disabled_webhook_and_put_enables_it() -> None:
    hook = {"url": URL, "secret": SECRET, "events": ALL_TYPES}
    with running_api() as api:
        api.put("/v1/webhooks/ops", hook)
        Alerting(api.ledger).on_gone("ops", URL)

        disabled = api.get("/v1/webhooks/ops").json()
        enabled = api.put("/v1/webhooks/ops", hook)

    assert (disabled["status"], disabled["disabled_at"]) == ("disabled", "2026-01-01T00:00:00Z")
    assert (enabled.status_code, enabled.json()["status"]) == (200, "active")
    assert enabled.json()["disabled_at"] is None
