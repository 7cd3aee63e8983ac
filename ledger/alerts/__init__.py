"""Alert configuration: webhooks and each wallet's alert settings, as event-sourced aggregates
(delivery is :mod:`projections.alerts`).
"""

from __future__ import annotations

from ledger.alerts.settings import (
    ALERT_SETTINGS_TOPICS,
    DEFAULT_GRANT_EXPIRING_LEAD_SECONDS,
    MAX_LEAD_SECONDS,
    AlertSettings,
    AlertSettingsSet,
    alert_settings_uuid,
    check_alert_settings,
    default_settings,
)
from ledger.alerts.webhooks import (
    ALERT_TYPES,
    MAX_SECRET,
    MAX_URL,
    MIN_SECRET,
    WEBHOOK_TOPICS,
    WEBHOOKS_SCOPE,
    Webhook,
    WebhookChanged,
    WebhookCreated,
    WebhookDeleted,
    WebhookEvent,
    check_webhook,
    webhook_uuid,
)

__all__ = [
    "ALERT_SETTINGS_TOPICS",
    "ALERT_TYPES",
    "DEFAULT_GRANT_EXPIRING_LEAD_SECONDS",
    "MAX_LEAD_SECONDS",
    "MAX_SECRET",
    "MAX_URL",
    "MIN_SECRET",
    "WEBHOOKS_SCOPE",
    "WEBHOOK_TOPICS",
    "AlertSettings",
    "AlertSettingsSet",
    "Webhook",
    "WebhookChanged",
    "WebhookCreated",
    "WebhookDeleted",
    "WebhookEvent",
    "alert_settings_uuid",
    "check_alert_settings",
    "check_webhook",
    "default_settings",
    "webhook_uuid",
]
