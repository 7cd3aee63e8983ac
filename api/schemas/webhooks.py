"""Alert bodies: webhooks, their delivery log and a wallet's alert settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from api.schemas.fields import NonNegativeAmount, RequestBody, ResponseBody
from ledger.alerts.settings import DEFAULT_GRANT_EXPIRING_LEAD_SECONDS, MAX_LEAD_SECONDS
from ledger.alerts.webhooks import MAX_SECRET, MAX_URL, MIN_SECRET
from ledger.app.alerting import PutAlertSettings, PutWebhook

__all__ = [
    "AlertSettingsIn",
    "AlertSettingsOut",
    "AlertType",
    "DeliveriesOut",
    "DeliveryOut",
    "WebhookIn",
    "WebhookOut",
]

AlertType = Literal[
    "budget.threshold_crossed", "wallet.balance_low", "hold.expired", "grant.expiring"
]


class WebhookIn(RequestBody):
    """Where to POST alerts, the secret that signs them and which alert types to send."""

    url: Annotated[str, Meta(min_length=1, max_length=MAX_URL, description="An http or https URL.")]
    secret: Annotated[
        str,
        Meta(
            min_length=MIN_SECRET,
            max_length=MAX_SECRET,
            description="Signs each delivery (HMAC-SHA256); stored, never shown again.",
        ),
    ]
    events: Annotated[list[AlertType], Meta(min_length=1, max_length=4)]

    def to_command(self, webhook_id: str, idempotency_key: str | None) -> PutWebhook:
        return PutWebhook(
            webhook_id=webhook_id,
            url=self.url,
            secret=self.secret,
            events=list(self.events),
            idempotency_key=idempotency_key,
        )


class WebhookOut(ResponseBody):
    """A webhook; ``secret_set`` stands for the secret, which is never returned. ``status``
    is ``disabled`` once its endpoint answered 410 Gone (``disabled_at``, ``disabled_reason``):
    nothing is sent to it until it is PUT again."""

    webhook_id: str
    url: str
    secret_set: bool
    events: list[str]
    created_at: datetime
    updated_at: datetime
    status: Literal["active", "disabled"] = "active"
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class DeliveryOut(ResponseBody):
    """One entry of the delivery log: a delivery queued (attempt 0, ``pending``) or one
    attempt (``delivered``, ``retrying`` or ``failed``)."""

    seq: int
    alert_id: str
    type: str
    attempt: int
    status: Literal["pending", "delivered", "retrying", "failed"]
    response_status: int | None
    error: str | None
    duration_ms: int | None
    attempted_at: datetime | None
    next_attempt_at: datetime | None


class DeliveriesOut(ResponseBody):
    """A page of the delivery log, oldest first; ``next_after`` continues it."""

    deliveries: list[DeliveryOut]
    next_after: int | None


LeadSeconds = Annotated[int, Meta(ge=0, le=MAX_LEAD_SECONDS)]


class AlertSettingsIn(RequestBody):
    """When to alert about a wallet: ``balance_low_threshold`` null turns that alert off."""

    balance_low_threshold: NonNegativeAmount | None = None
    grant_expiring_lead_seconds: LeadSeconds = DEFAULT_GRANT_EXPIRING_LEAD_SECONDS

    def to_command(self, wallet_id: str, idempotency_key: str | None) -> PutAlertSettings:
        return PutAlertSettings(
            wallet_id=wallet_id,
            balance_low_threshold=self.balance_low_threshold,
            grant_expiring_lead_seconds=self.grant_expiring_lead_seconds,
            idempotency_key=idempotency_key,
        )


class AlertSettingsOut(ResponseBody):
    """A wallet's alert settings (``updated_at`` null while they are the defaults)."""

    wallet_id: str
    balance_low_threshold: int | None
    grant_expiring_lead_seconds: int
    updated_at: datetime | None
