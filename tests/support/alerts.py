"""Shared harness of the alert tests (no tests here): a ledger, its views and the alert
machinery on one fake clock, and a real HTTP receiver on 127.0.0.1 that checks signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger.app.alerting import Alerting, PutAlertSettings, PutWebhook
from ledger.app.commands import GrantCredits, SetBudget
from ledger.app.service import CreditLedger
from projections.alerts.delivery import AlertDelivery, DeliveryPolicy, Sender, post_json
from projections.alerts.outbox import delivery_log
from projections.engine.connect import open_views
from projections.engine.store import ViewStore
from projections.runner import ProjectionRunner
from tests.support.builders import FakeClock, make_ledger

__all__ = [
    "ALL_TYPES",
    "SECRET",
    "Harness",
    "Receiver",
    "free_port",
    "harness",
    "receiving",
]

SECRET = "a-secret-of-twenty-chars"  # noqa: S105 - a test secret
ALL_TYPES = ["budget.threshold_crossed", "wallet.balance_low", "hold.expired", "grant.expiring"]


@dataclass
class Harness:
    ledger: CreditLedger
    views: ViewStore
    clock: FakeClock
    runner: ProjectionRunner

    @property
    def alerting(self) -> Alerting:
        return Alerting(self.ledger)

    def webhook(self, webhook_id: str, url: str, events: list[str] | None = None) -> None:
        self.alerting.put_webhook(
            PutWebhook(webhook_id=webhook_id, url=url, secret=SECRET, events=events or ALL_TYPES)
        )

    def settings(self, wallet_id: str, low: int | None, lead: int = 3 * 24 * 3600) -> None:
        self.alerting.put_alert_settings(
            PutAlertSettings(
                wallet_id=wallet_id, balance_low_threshold=low, grant_expiring_lead_seconds=lead
            )
        )

    def budget(
        self, budget_id: str = "b", thresholds_bps: list[int] | None = None, limit: int = 1000
    ) -> None:
        """A monthly budget on ``acme`` alerting at ``thresholds_bps`` (default: half)."""
        self.ledger.set_budget(
            SetBudget(
                wallet_id="acme",
                budget_id=budget_id,
                limit=limit,
                period="month",
                alert_thresholds_bps=[5000] if thresholds_bps is None else thresholds_bps,
            )
        )

    def promo_grant(self, expires_at: datetime, effective_at: datetime | None = None) -> None:
        """300 promotional credits on ``acme`` (grant ``promo``) expiring at ``expires_at``."""
        self.ledger.grant(
            GrantCredits(
                wallet_id="acme",
                amount=300,
                category="promotional",
                grant_id="promo",
                effective_at=effective_at,
                expires_at=expires_at,
            )
        )

    def project(self) -> None:
        self.runner.catch_up()

    def delivery(self, send: Sender = post_json, **policy: Any) -> AlertDelivery:
        return AlertDelivery(
            self.views, clock=self.clock, send=send, policy=DeliveryPolicy(**policy)
        )

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """Every alert in the outbox: (id, data)."""
        with self.views.read() as tx:
            table = tx.dialect.table("alert_outbox")
            rows = tx.all(f"SELECT alert_id, data FROM {table} ORDER BY alert_id")  # noqa: S608
        return [(alert_id, json.loads(data)) for alert_id, data in rows]

    def alert_ids(self, prefix: str = "") -> list[str]:
        return [alert_id for alert_id, _ in self.alerts() if alert_id.startswith(prefix)]

    def log(self, webhook_id: str) -> list[dict[str, Any]]:
        with self.views.read() as tx:
            entries: list[dict[str, Any]] = delivery_log(tx, webhook_id, 0, 1000)["deliveries"]
        return entries

    def count(self, table: str) -> int:
        with self.views.read() as tx:
            row = tx.one(f"SELECT COUNT(*) FROM {tx.dialect.table(table)}")  # noqa: S608
        return int(row[0]) if row else 0


@contextmanager
def harness(url: str = "memory://", clock: FakeClock | None = None) -> Iterator[Harness]:
    clock = clock or FakeClock()
    ledger = make_ledger(url, clock=clock)
    try:
        views = open_views(ledger.env)
        try:
            yield Harness(ledger, views, clock, ProjectionRunner(ledger, views, clock=clock))
        finally:
            views.close()
    finally:
        ledger.close()


def free_port() -> int:
    """A port nothing listens on right now (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Receiver:
    """What the receiver saw: every call, and the bodies it accepted (2xx)."""

    fail_first: int = 0
    calls: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, header: str, body: bytes) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        mac = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
        return hmac.compare_digest(mac.hexdigest(), parts["v1"])

    def handle(self, header: str, body: bytes) -> int:
        with self.lock:
            self.calls += 1
            if not self.verify(header, body):
                self.bad_signatures += 1
                return 401
            if self.calls <= self.fail_first:
                return 500
            self.accepted.append(json.loads(body))
            return 204

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return sorted(str(payload["id"]) for payload in self.accepted)


@contextmanager
def receiving(receiver: Receiver, port: int = 0) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (``port``, default any free one) answering for
    ``receiver``; yields its webhook URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.handle(self.headers.get("Ledger-Signature", ""), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
