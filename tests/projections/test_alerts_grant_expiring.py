"""``grant.expiring`` is never dated before the grant existed.

It was dated ``expires_at - lead`` even for a grant made inside its own lead window, so a
receiver saw an alert about a grant older than the grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from projections.alerts.projection import expiring_alert_at
from tests.support.alerts import Harness, harness
from tests.support.builders import T0, open_funded_wallet

URL = "http://127.0.0.1:9/hook"
LEAD = timedelta(days=3)  # the default lead


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        running.webhook("ops", URL)
        yield running


def _sent(h: Harness) -> list[dict[str, object]]:
    """The payloads the worker POSTs, after one round at the current time."""
    bodies: list[dict[str, object]] = []

    def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        bodies.append(json.loads(body))
        return 204

    h.project()
    h.delivery(send=send).tick()
    return [b for b in bodies if b["type"] == "grant.expiring"]


def test_a_grant_made_inside_its_lead_window_is_announced_as_made(h: Harness) -> None:
    made = h.clock.set(T0 + timedelta(days=5))
    h.promo_grant(expires_at=made + timedelta(days=1))

    (alert,) = _sent(h)

    assert alert["occurred_at"] == "2026-01-06T00:00:00Z"  # made, not expiry - lead (Jan 4)


def test_a_grant_not_yet_effective_is_announced_when_it_becomes_effective(h: Harness) -> None:
    effective = T0 + timedelta(days=8)
    h.promo_grant(expires_at=effective + timedelta(days=1), effective_at=effective)
    h.clock.set(effective - timedelta(seconds=1))
    early = _sent(h)
    h.clock.set(effective)

    (alert,) = _sent(h)

    assert early == []
    assert alert["occurred_at"] == "2026-01-09T00:00:00Z"


def test_a_longer_lead_set_later_dates_the_alert_at_the_change(h: Harness) -> None:
    h.promo_grant(expires_at=T0 + timedelta(days=10))
    h.clock.set(T0 + timedelta(days=5))
    h.settings("acme", low=None, lead=int(timedelta(days=7).total_seconds()))

    (alert,) = _sent(h)

    assert alert["occurred_at"] == "2026-01-06T00:00:00Z"  # the change, not Jan 4


def test_a_grant_made_long_before_its_lead_window_is_dated_expiry_minus_lead(
    h: Harness,
) -> None:
    expires = T0 + timedelta(days=10)
    h.promo_grant(expires_at=expires)
    h.clock.set(expires - LEAD)

    (alert,) = _sent(h)

    assert alert["occurred_at"] == "2026-01-08T00:00:00Z"


def test_the_due_time_is_the_latest_of_lead_and_existence() -> None:
    expires = T0 + timedelta(days=10)

    assert expiring_alert_at(expires, 3600, T0) == expires - timedelta(hours=1)
    assert expiring_alert_at(expires, 30 * 86400, T0) == T0
    assert expiring_alert_at(expires, 30 * 86400, T0, T0 + timedelta(days=2)) == T0 + timedelta(
        days=2
    )
