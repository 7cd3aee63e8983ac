"""Administration and operations: API keys, webhooks, projections, health and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from credit_ledger.admin import (
    ApiKeyInfo,
    Delivery,
    IssuedApiKey,
    Projection,
    RebuildAccepted,
    Webhook,
    WhoAmI,
)
from credit_ledger.calls import (
    Answer,
    Call,
    decode_as,
    decode_items,
    decode_none,
    decode_page,
    decode_text,
    json_body,
    new_key,
    query,
    segment,
)
from credit_ledger.reports import Page

__all__ = [
    "create_api_key",
    "delete_webhook",
    "get_webhook",
    "health",
    "list_api_keys",
    "list_projections",
    "list_webhooks",
    "metrics",
    "put_webhook",
    "ready",
    "rebuild_projection",
    "revoke_api_key",
    "webhook_deliveries",
    "whoami",
]

AlertType = Literal[
    "budget.threshold_crossed", "wallet.balance_low", "hold.expired", "grant.expiring"
]


def create_api_key(scopes: Sequence[str], *, name: str | None = None) -> Call[IssuedApiKey]:
    """Issue a key (admin); its secret is in this answer only.

    Never retried: the server keeps no copy of the secret, so an ``Idempotency-Key`` cannot
    bring a lost answer back, and a repeat would issue a second key. Revoke a key whose
    answer was lost.
    """
    body = json_body(scopes=list(scopes), name=name)
    return Call("POST", "/v1/api-keys", decode_as(IssuedApiKey), body=body)


def revoke_api_key(key_id: str) -> Call[None]:
    """Revoke a key at once; revoking twice is harmless, so this call is retried."""
    path = f"/v1/api-keys/{segment(key_id)}"
    return Call("DELETE", path, decode_none, idempotent=True)


def list_api_keys(
    *, after: int | None = None, limit: int | None = None, min_position: int | None = None
) -> Call[Page[ApiKeyInfo, int]]:
    """A page of API keys in the order they were issued, never the key itself (admin;
    contract 1.1). The server's bootstrap key is not stored, so it is not listed."""
    params = query(after=after, limit=limit, min_position=min_position)
    return Call("GET", "/v1/api-keys", decode_page(ApiKeyInfo, "api_keys"), params=params)


def whoami() -> Call[WhoAmI]:
    """The calling key's id, name and scopes (any key)."""
    return Call("GET", "/v1/whoami", decode_as(WhoAmI))


def put_webhook(
    webhook_id: str,
    *,
    url: str,
    secret: str,
    events: Sequence[AlertType],
    idempotency_key: str | None = None,
) -> Call[Webhook]:
    """Create or change where alerts are POSTed, signed with ``secret``."""
    body = json_body(url=url, secret=secret, events=list(events))
    key = idempotency_key or new_key()
    path = f"/v1/webhooks/{segment(webhook_id)}"
    return Call("PUT", path, decode_as(Webhook), body=body, idempotency_key=key)


def get_webhook(webhook_id: str) -> Call[Webhook]:
    return Call("GET", f"/v1/webhooks/{segment(webhook_id)}", decode_as(Webhook))


def delete_webhook(webhook_id: str, *, idempotency_key: str | None = None) -> Call[None]:
    path = f"/v1/webhooks/{segment(webhook_id)}"
    return Call("DELETE", path, decode_none, idempotency_key=idempotency_key or new_key())


def list_webhooks(
    *, after: int | None = None, limit: int | None = None, min_position: int | None = None
) -> Call[Page[Webhook, int]]:
    """A page of webhooks in the order they were created, deleted ones left out (admin;
    contract 1.1)."""
    params = query(after=after, limit=limit, min_position=min_position)
    return Call("GET", "/v1/webhooks", decode_page(Webhook, "webhooks"), params=params)


def webhook_deliveries(
    webhook_id: str, *, after: int | None = None, limit: int | None = None
) -> Call[Page[Delivery, int]]:
    """A page of the webhook's delivery log, oldest first."""
    path = f"/v1/webhooks/{segment(webhook_id)}/deliveries"
    params = query(after=after, limit=limit)
    return Call("GET", path, decode_page(Delivery, "deliveries"), params=params)


def list_projections() -> Call[list[Projection]]:
    """Each read model's position, lag and status (admin)."""
    return Call("GET", "/v1/admin/projections", decode_items(Projection, "projections"))


def rebuild_projection(name: str) -> Call[RebuildAccepted]:
    """Start rebuilding a read model in the background (202). Not retried: a repeat while
    it runs answers 409 ``rebuild_in_progress``."""
    path = f"/v1/admin/projections/{segment(name)}/rebuild"
    return Call("POST", path, decode_as(RebuildAccepted))


def _status_ok(answer: Answer) -> bool:
    return 200 <= answer.status < 300


def health() -> Call[bool]:
    """True while the server process runs (``GET /healthz``)."""
    return Call("GET", "/healthz", _status_ok)


def ready() -> Call[bool]:
    """True when every event store answers (``GET /readyz``); a 503 raises
    :class:`~credit_ledger.NotReady` once retries are spent."""
    return Call("GET", "/readyz", _status_ok)


def metrics() -> Call[str]:
    """This server process's Prometheus metrics, as text."""
    return Call("GET", "/metrics", decode_text)
