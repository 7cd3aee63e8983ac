"""The delivery worker: sends the outbox's due deliveries to their webhooks, at least once.

One :meth:`AlertDelivery.tick` (callable directly; time comes from the injected clock):

1. queues ``grant.expiring`` alerts that have come due (time-based, so not made by the
   projection): grants whose ``expires_at - lead <= now < expires_at``, once each;
2. claims up to ``batch`` due deliveries (``pending``/``retrying`` with ``next_attempt_at
   <= now``; on PostgreSQL ``FOR UPDATE SKIP LOCKED``) and leases them for as long as the
   whole batch may take to send (one timeout each, plus a margin), so a second worker does
   not send them at the same moment;
3. POSTs each in turn, signed twice (``Ledger-Signature`` and the Standard Webhooks headers,
   see :mod:`projections.alerts_http`), with a bounded timeout, and records the attempt in
   the delivery log. A 2xx answer is ``delivered``. 410 Gone is ``failed`` and disables the
   webhook (``on_gone``: recorded in the ledger, so its GET says ``disabled`` until it is
   PUT again); a refused destination (link-local) is ``failed``. Anything else is retried
   after ``base * 2**(attempt-1)`` seconds capped at ``cap``, less up to ``jitter`` of it at
   random, and not before the receiver's ``Retry-After``; until ``max_age`` after its first
   attempt (then ``failed``).
   An item that cannot be recorded is logged and skipped (it comes due again when its
   lease expires); the others are still sent. A set ``stop`` event ends the round between
   items, and the unsent rest comes due again when the lease expires.

A crash between sending and recording sends again later: delivery is at least once, and
receivers de-duplicate by the payload's stable ``id``. A ``delivered`` row is never changed
again, so a late attempt of a worker whose lease ran out cannot undo it. The secret and
bodies are never logged.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from projections.alerts.http import (
    Answer,
    DeliveryPolicy,
    DestinationRefused,
    Sender,
    backoff,
    post_json,
    retry_delay,
    sign,
    signed_headers,
)
from projections.alerts.outbox import FIXED_TABLES, emit, log_row
from projections.alerts.projection import AlertsProjection
from projections.alerts.sql import iso
from projections.engine import meta
from projections.engine.store import Tx, ViewStore
from projections.models.meters import safe_text

__all__ = ["AlertDelivery", "DeliveryPolicy", "Sender", "backoff", "post_json", "sign"]

log = logging.getLogger(__name__)

CLAIM = (
    "SELECT d.alert_id, d.webhook_id, d.attempts, d.first_attempt_at, o.type, o.occurred_at,"
    " o.data, h.url, h.secret, h.events, h.active FROM {deliveries} d"
    " JOIN {outbox} o ON o.alert_id = d.alert_id"
    " LEFT JOIN {t_hooks} h ON h.webhook_id = d.webhook_id"
    " WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ?"
    " ORDER BY d.next_attempt_at LIMIT ?"
)
LEASE = (
    "UPDATE {deliveries} SET next_attempt_at = ?, first_attempt_at = COALESCE(first_attempt_at, ?)"
    " WHERE alert_id = ? AND webhook_id = ?"
)
RECORD = (
    "UPDATE {deliveries} SET status = ?, attempts = ?, next_attempt_at = ?"
    " WHERE alert_id = ? AND webhook_id = ? AND status <> 'delivered'"
)
EXPIRING = (
    "SELECT g.wallet_id, g.grant_id, g.expires_at, g.remaining, g.alert_at, g.alert_id"
    " FROM {t_grants} g WHERE g.alert_at <= ? AND g.expires_at > ? AND g.remaining > 0"
    " AND NOT EXISTS (SELECT 1 FROM {outbox} o WHERE o.alert_id = g.alert_id)"
    " ORDER BY g.alert_at LIMIT ?"
)
HOOKS = "SELECT webhook_id, events FROM {t_hooks} WHERE active = 1"
LEASE_MARGIN_SECONDS = 30
"""Added to one timeout per leased item: the lease outlasts the batch's sends."""
MAX_ERROR = 200
"""The most characters of an error text kept in the delivery log."""
GONE = 410
GONE_ERROR = "HTTP 410 Gone: webhook disabled"


@dataclass(frozen=True)
class _Due:
    alert_id: str
    webhook_id: str
    attempts: int
    first_attempt_at: datetime
    alert_type: str
    body: bytes
    url: str | None
    secret: str | None
    subscribed: bool


@dataclass(frozen=True)
class _Attempt:
    """One entry of the delivery log: attempt ``number`` (0: given up before sending)."""

    number: int
    status: str
    code: int | None = None
    error: str | None = None
    elapsed: int | None = None
    delay: timedelta | None = None


class AlertDelivery:
    """Delivers the outbox of one view store (see the module docstring)."""

    def __init__(
        self,
        views: ViewStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        send: Sender = post_json,
        policy: DeliveryPolicy | None = None,
        projection: AlertsProjection | None = None,
        on_gone: Callable[[str, str], None] | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.views = views
        self.clock = clock
        self.send = send
        self.policy = policy or DeliveryPolicy()
        self.projection = projection or AlertsProjection()
        self.on_gone = on_gone
        """Called with a webhook's id and URL when it answers 410 Gone (disables it)."""
        self.draw = draw
        """The jitter's random draw in [0, 1) (a test fixes it)."""
        self._gone: set[str] = set()

    def _live(self, tx: Tx) -> int | None:
        generations = meta.read_generations(tx).get(self.projection.name)
        return None if generations is None else generations.live

    def tick(self, stop: threading.Event | None = None) -> int:
        """One round: queue due ``grant.expiring`` alerts, then send what is due; returns
        how many deliveries were attempted. Once ``stop`` is set, no further item is sent."""
        now = self.clock()
        due = self._claim(now)
        self._gone = set()  # webhooks that answered 410 in this round: sent nothing more
        attempted = 0
        for item in due:
            if stop is not None and stop.is_set():
                break
            attempted += 1
            try:
                self._deliver(item)
            except Exception as error:  # one bad row must not stall the rest of the batch
                log.error(  # the type only: a database message may quote the values
                    "alert %s to webhook %s: delivery not recorded (%s); retried after the lease",
                    item.alert_id,
                    item.webhook_id,
                    type(error).__name__,
                )
        return attempted

    def _claim(self, now: datetime) -> list[_Due]:
        try:
            with self.views.write() as tx:
                generation = self._live(tx)
                if generation is None:
                    return []
                self._queue_expiring(tx, generation, now)
                return self._lease(tx, generation, now)
        except Exception as error:
            if self.views.is_missing_table(error):  # not installed yet, or a generation switch
                return []
            raise

    def _queue_expiring(self, tx: Tx, generation: int, now: datetime) -> None:
        sql, from_db, to_db = self.projection.sql, tx.dialect.from_db, tx.dialect.to_db
        rows = tx.all(sql(tx, EXPIRING, generation), (to_db(now), to_db(now), self.policy.batch))
        if not rows:
            return
        hooks = [
            hook
            for hook, events in tx.all(sql(tx, HOOKS, generation))
            if "grant.expiring" in json.loads(events)
        ]
        for wallet_id, grant_id, expires_at, remaining, alert_at, alert_id in rows:
            emit(
                tx,
                alert_id=alert_id,
                alert_type="grant.expiring",
                wallet_id=wallet_id,
                occurred_at=from_db(alert_at),
                data={
                    "wallet_id": wallet_id,
                    "grant_id": grant_id,
                    "expires_at": iso(from_db(expires_at)),
                    "remaining": int(remaining),
                },
                webhooks=hooks,
            )

    def _lease(self, tx: Tx, generation: int, now: datetime) -> list[_Due]:
        from_db, to_db = tx.dialect.from_db, tx.dialect.to_db
        claim = self.projection.sql(tx, CLAIM, generation)
        if tx.dialect.is_postgres:
            claim += " FOR UPDATE OF d SKIP LOCKED"
        rows = tx.all(claim, (to_db(now), self.policy.batch))
        seconds = len(rows) * self.policy.timeout_seconds + LEASE_MARGIN_SECONDS
        lease_until = now + timedelta(seconds=seconds)
        tx.executemany(
            self.projection.sql(tx, LEASE, generation),
            [(to_db(lease_until), to_db(now), row[0], row[1]) for row in rows],
        )
        due = []
        for (
            alert_id,
            hook,
            attempts,
            first,
            kind,
            occurred,
            data,
            url,
            secret,
            events,
            active,
        ) in rows:
            payload = {
                "id": alert_id,
                "type": kind,
                "occurred_at": iso(from_db(occurred)),
                "data": json.loads(data),
            }
            subscribed = bool(active) and events is not None and kind in json.loads(events)
            due.append(
                _Due(
                    alert_id=alert_id,
                    webhook_id=hook,
                    attempts=int(attempts),
                    first_attempt_at=now if first is None else from_db(first),
                    alert_type=kind,
                    body=json.dumps(payload, sort_keys=True, separators=(",", ":")).encode(),
                    url=url,
                    secret=secret,
                    subscribed=subscribed,
                )
            )
        return due

    def _deliver(self, item: _Due) -> None:
        attempt = item.attempts + 1
        gone = item.webhook_id in self._gone
        if gone or not item.subscribed or item.url is None or item.secret is None:
            reason = "webhook disabled (410 Gone)" if gone else "webhook deleted or unsubscribed"
            self._record(item, _Attempt(attempt - 1, "failed", error=reason))
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "credit-ledger-webhooks/1",
            **signed_headers(item.secret, item.alert_id, int(self.clock().timestamp()), item.body),
        }
        started = time.monotonic()
        answer, error = None, None
        try:
            sent = self.send(item.url, item.body, headers, self.policy.timeout_seconds)
            answer = sent if isinstance(sent, Answer) else Answer(int(sent))
        except Exception as failure:  # refused, reset, timed out, bad answer: all retried
            # a receiver's bytes (NUL included) can reach the message: PostgreSQL text
            # refuses NUL, and a failed record would retry this delivery forever
            error = safe_text(f"{type(failure).__name__}: {failure}")[:MAX_ERROR]
            if isinstance(failure, DestinationRefused):  # never retried: it will not change
                self._record(item, _Attempt(attempt, "failed", None, error, _since(started)))
                return
        status = None if answer is None else answer.status
        if status is not None and 200 <= status < 300:
            self._record(item, _Attempt(attempt, "delivered", status, None, _since(started)))
        elif status == GONE:
            self._record(item, _Attempt(attempt, "failed", GONE, GONE_ERROR, _since(started)))
            self._disable(item)
        elif self.clock() - item.first_attempt_at >= self.policy.max_age:
            self._record(item, _Attempt(attempt, "failed", status, error or f"HTTP {status}"))
        else:
            asked = None if answer is None else answer.retry_after
            delay = retry_delay(attempt, self.policy, self.draw(), asked, self.clock())
            error = error or f"HTTP {status}"
            self._record(item, _Attempt(attempt, "retrying", status, error, _since(started), delay))

    def _disable(self, item: _Due) -> None:
        """410 Gone: the endpoint is gone for good. The webhook is disabled (``on_gone``), so
        nothing more is queued for it, and nothing more is sent to it in this round."""
        self._gone.add(item.webhook_id)
        if self.on_gone is None or item.url is None:
            log.warning("webhook %s answered 410 Gone; nothing disables it", item.webhook_id)
            return
        try:
            self.on_gone(item.webhook_id, item.url)
        except Exception as failure:  # its next delivery answers 410 again, and asks again
            log.error("webhook %s: not disabled (%s)", item.webhook_id, type(failure).__name__)
        else:
            log.warning("webhook %s answered 410 Gone: disabled", item.webhook_id)

    def _record(self, item: _Due, attempt: _Attempt) -> None:
        now = self.clock()
        delay = attempt.delay if attempt.status == "retrying" else None
        retry_at = None if delay is None else now + delay
        with self.views.write() as tx:
            to_db = tx.dialect.to_db
            tx.execute(
                tx.dialect.sql(RECORD, **FIXED_TABLES),
                (
                    attempt.status,
                    attempt.number,
                    to_db(retry_at or now),
                    item.alert_id,
                    item.webhook_id,
                ),
            )
            log_row(
                tx,
                webhook_id=item.webhook_id,
                alert_id=item.alert_id,
                alert_type=item.alert_type,
                attempt=attempt.number,
                status=attempt.status,
                response_status=attempt.code,
                error=attempt.error,
                duration_ms=attempt.elapsed,
                attempted_at=now,
                next_attempt_at=retry_at,
            )
        if attempt.status != "delivered":
            log.info(
                "alert %s to webhook %s: attempt %d %s (%s)",
                item.alert_id,
                item.webhook_id,
                attempt.number,
                attempt.status,
                attempt.error,
            )

    def run_forever(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; errors are logged and retried (capped backoff)."""
        failures = 0
        while not stop.is_set():
            try:
                sent = self.tick(stop)
                failures = 0
            except Exception:
                failures += 1
                delay = min(30.0, self.policy.idle_seconds * 2 ** min(failures, 8))
                log.exception(
                    "alert delivery failed (%d in a row); retry in %.1fs", failures, delay
                )
                stop.wait(delay)
                continue
            if sent < self.policy.batch:
                stop.wait(self.policy.idle_seconds)


def _since(started: float) -> int:
    """Milliseconds since the monotonic time ``started``."""
    return int((time.monotonic() - started) * 1000)
