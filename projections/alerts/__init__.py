"""Alert delivery: the alerts projection that fills the outbox, the outbox itself and the worker
that sends due deliveries to webhooks.
"""

from __future__ import annotations

from projections.alerts.delivery import AlertDelivery, Sender
from projections.alerts.http import DeliveryPolicy, backoff, post_json, sign
from projections.alerts.outbox import FIXED_TABLES, create_outbox, delivery_log, emit, log_row
from projections.alerts.projection import AlertsProjection
from projections.alerts.sql import DDL, SQL, grant_alert_id, grant_of, iso, threshold_text

__all__ = [
    "DDL",
    "FIXED_TABLES",
    "SQL",
    "AlertDelivery",
    "AlertsProjection",
    "DeliveryPolicy",
    "Sender",
    "backoff",
    "create_outbox",
    "delivery_log",
    "emit",
    "grant_alert_id",
    "grant_of",
    "iso",
    "log_row",
    "post_json",
    "sign",
    "threshold_text",
]
