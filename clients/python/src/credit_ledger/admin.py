"""Typed answers of the administrative routes: API keys, webhooks, alert settings,
projections, and the per-operation results of ``POST /v1/batch``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from credit_ledger.models import Model

__all__ = [
    "AlertSettings",
    "ApiKeyInfo",
    "BatchResult",
    "Delivery",
    "IssuedApiKey",
    "Projection",
    "RebuildAccepted",
    "Webhook",
    "WhoAmI",
]


class IssuedApiKey(Model):
    """A new key; ``key`` is shown only in this answer."""

    key_id: str
    key: str
    scopes: list[str]
    name: str
    created_at: datetime


class ApiKeyInfo(Model):
    """An item of ``GET /v1/api-keys`` (contract 1.1): never the key itself."""

    key_id: str
    scopes: list[str]
    name: str = ""
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class Webhook(Model):
    """``secret_set`` stands for the secret, which is never returned."""

    webhook_id: str
    url: str
    events: list[str]
    secret_set: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Delivery(Model):
    seq: int
    alert_id: str
    type: str
    attempt: int
    status: str
    response_status: int | None = None
    error: str | None = None
    duration_ms: int | None = None
    attempted_at: datetime | None = None
    next_attempt_at: datetime | None = None


class AlertSettings(Model):
    wallet_id: str
    balance_low_threshold: int | None
    grant_expiring_lead_seconds: int
    updated_at: datetime | None = None


class Projection(Model):
    """A read model; ``lag`` is ``head - position`` in events."""

    name: str
    position: int
    head: int
    lag: int
    status: str
    generation: int | None = None
    lag_seconds: float = 0.0
    worker: str | None = None
    rebuild: dict[str, Any] | None = None


class RebuildAccepted(Model):
    name: str
    status: str


class BatchResult(Model):
    """One operation's answer in a ``POST /v1/batch``: what its single endpoint would have
    answered (``status`` and ``body``; a problem document for a refusal); ``replayed`` for
    a repeated key, ``position`` the ``Ledger-Position`` it recorded (None if nothing)."""

    index: int
    status: int
    body: Any = None
    replayed: bool = False
    position: int | None = None


class WhoAmI(Model):
    """The calling API key: its id, name and scopes (the server's bootstrap key is
    ``bootstrap`` with scope ``admin``)."""

    key_id: str
    name: str
    scopes: list[str]
