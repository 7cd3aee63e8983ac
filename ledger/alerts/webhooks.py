"""Webhooks: where alerts are sent, one event-sourced aggregate per ``webhook_id``.

A webhook names a URL, the secret its deliveries are signed with and the alert types it
wants. Every event carries the webhook's complete definition, so the alerts projection
(:mod:`projections.alerts.projection`) keeps its copy from the log alone. The secret is stored (it
is needed to sign) but never part of a view: :meth:`Webhook.view` says only ``secret_set``.

A webhook whose endpoint answered 410 Gone is disabled (``ledger:Webhook.Disabled``): no
alert is queued for it until it is PUT again; its GET shows ``status: disabled``.

Topics are explicit and never change: ``ledger:Webhook``, ``ledger:Webhook.Created``,
``ledger:Webhook.Changed``, ``ledger:Webhook.Deleted``, ``ledger:Webhook.Disabled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.ids import ledger_uuid5

__all__ = [
    "ALERT_TYPES",
    "MAX_SECRET",
    "MAX_URL",
    "MIN_SECRET",
    "WEBHOOKS_SCOPE",
    "WEBHOOK_TOPICS",
    "Webhook",
    "WebhookChanged",
    "WebhookCreated",
    "WebhookDeleted",
    "WebhookDisabled",
    "WebhookEvent",
    "check_webhook",
    "webhook_uuid",
]

ALERT_TYPES: tuple[str, ...] = (
    "budget.threshold_crossed",
    "wallet.balance_low",
    "hold.expired",
    "grant.expiring",
)
MAX_URL = 2048
MIN_SECRET = 16
MAX_SECRET = 256
WEBHOOKS_SCOPE = "#webhooks"
"""Receipt scope of webhook commands: server-wide (``#`` is not an id character, so it can
never alias a wallet's scope)."""


def webhook_uuid(webhook_id: str) -> UUID:
    return ledger_uuid5(f"webhook/{webhook_id}")


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    printable = url.isprintable() and not any(c.isspace() for c in url)
    return printable and parts.scheme in ("http", "https") and bool(parts.hostname)


def check_webhook(url: str, secret: str, events: Sequence[str]) -> list[str]:
    """Every problem with a definition at once; returns the events sorted and de-duplicated."""
    problems: list[FieldError] = []
    if len(url) > MAX_URL:
        problems.append(FieldError("url", f"must be at most {MAX_URL} characters"))
    elif not _is_http_url(url):
        problems.append(FieldError("url", "must be an http or https URL with a host"))
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        problems.append(FieldError("secret", f"must be {MIN_SECRET}-{MAX_SECRET} characters long"))
    unknown = sorted(set(events) - set(ALERT_TYPES))
    if not events:
        problems.append(FieldError("events", "must name at least one alert type"))
    elif unknown:
        problems.append(FieldError("events", f"unknown {unknown}; known: {', '.join(ALERT_TYPES)}"))
    if problems:
        raise ValidationFailed(*problems)
    return sorted(set(events))


class WebhookEvent(Aggregate.Event):
    """Base of webhook events: each carries the complete definition after it."""

    TOPIC: ClassVar[str]

    occurred_at: datetime
    webhook_id: str
    url: str
    secret: str
    events: list[str]
    active: bool
    idempotency_key: str | None

    def apply(self, aggregate: Any) -> None:
        hook: Webhook = aggregate
        hook.webhook_id = self.webhook_id
        hook.url, hook.secret, hook.events = self.url, self.secret, list(self.events)
        hook.active = self.active
        hook.updated_at = self.occurred_at
        hook.disabled_at, hook.disabled_reason = None, None


class WebhookCreated(WebhookEvent, Aggregate.Created):
    TOPIC = "ledger:Webhook.Created"

    def apply(self, aggregate: Any) -> None:
        hook: Webhook = aggregate
        hook.created_at = self.occurred_at
        super().apply(hook)


class WebhookChanged(WebhookEvent):
    TOPIC = "ledger:Webhook.Changed"


class WebhookDeleted(WebhookEvent):
    TOPIC = "ledger:Webhook.Deleted"


class WebhookDisabled(WebhookEvent):
    """The endpoint answered 410 Gone: nothing more is sent until the webhook is PUT again."""

    TOPIC = "ledger:Webhook.Disabled"
    reason: str

    def apply(self, aggregate: Any) -> None:
        super().apply(aggregate)
        hook: Webhook = aggregate
        hook.disabled_at, hook.disabled_reason = self.occurred_at, self.reason


class Webhook(Aggregate):
    TOPIC = "ledger:Webhook"
    Event = WebhookEvent
    Created = WebhookCreated

    webhook_id: str
    url: str = ""
    secret: str = ""
    events: list[str] | None = None
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def deleted(self) -> bool:
        """Deleted (not merely disabled): unknown to reads until PUT again."""
        return not self.active and self.disabled_at is None

    @classmethod
    def create(
        cls,
        *,
        webhook_id: str,
        url: str,
        secret: str,
        events: list[str],
        idempotency_key: str | None,
        at: datetime,
    ) -> Webhook:
        return cls._create(
            WebhookCreated,
            id=webhook_uuid(webhook_id),
            webhook_id=webhook_id,
            occurred_at=at,
            url=url,
            secret=secret,
            events=events,
            active=True,
            idempotency_key=idempotency_key,
        )

    def change(
        self, *, url: str, secret: str, events: list[str], idempotency_key: str | None, at: datetime
    ) -> bool:
        """Record the new definition (re-activating a deleted webhook); False when equal."""
        if self.active and (self.url, self.secret, self.events) == (url, secret, events):
            return False
        self.trigger_event(
            WebhookChanged,
            occurred_at=self._after(at),
            webhook_id=self.webhook_id,
            url=url,
            secret=secret,
            events=events,
            active=True,
            idempotency_key=idempotency_key,
        )
        return True

    def disable(self, *, url: str, reason: str, at: datetime) -> bool:
        """Stop deliveries to ``url`` (the URL that answered 410 Gone); False when the webhook
        is not active or has moved to another URL since (then that one is still wanted)."""
        if not self.active or self.url != url:
            return False
        self.trigger_event(
            WebhookDisabled,
            occurred_at=self._after(at),
            webhook_id=self.webhook_id,
            url=self.url,
            secret=self.secret,
            events=list(self.events or []),
            active=False,
            idempotency_key=None,
            reason=reason,
        )
        return True

    def delete(self, *, idempotency_key: str | None, at: datetime) -> bool:
        """Stop future deliveries; False when already deleted."""
        if self.deleted:
            return False
        self.trigger_event(
            WebhookDeleted,
            occurred_at=self._after(at),
            webhook_id=self.webhook_id,
            url=self.url,
            secret=self.secret,
            events=list(self.events or []),
            active=False,
            idempotency_key=idempotency_key,
        )
        return True

    def _after(self, at: datetime) -> datetime:
        return at if self.updated_at is None else max(at, self.updated_at)

    def view(self) -> dict[str, Any]:
        """The webhook as the API shows it: never the secret itself."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "secret_set": bool(self.secret),
            "events": list(self.events or []),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": "disabled" if self.disabled_at is not None else "active",
            "disabled_at": self.disabled_at,
            "disabled_reason": self.disabled_reason,
        }


WEBHOOK_TOPICS: list[str] = [
    WebhookCreated.TOPIC,
    WebhookChanged.TOPIC,
    WebhookDeleted.TOPIC,
    WebhookDisabled.TOPIC,
]

for _event_class in (WebhookCreated, WebhookChanged, WebhookDeleted, WebhookDisabled):
    register_topic(_event_class.TOPIC, _event_class)
