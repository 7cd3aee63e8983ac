"""API keys: an event-sourced ``ApiKey`` aggregate stored beside the wallets.

Issuing, finding and revoking keys on a ledger is :mod:`ledger.app.keys`.

A key reads ``lk_<key_id>_<secret>``. Only ``sha256(secret)`` is stored: the secret is 32 random
bytes, so a fast hash is enough (nothing to brute-force) and a leaked event log reveals no key.
The key id is in the key itself, so checking a key is one aggregate load by a derived id
(``uuid5`` of the key id). Keys are never cached outside the ledger's repository, whose cache
fast-forwards from the store on every read (eventsourcing's default
``AGGREGATE_CACHE_FASTFORWARD=y``; turning it off would let revoked keys work on): a
revocation made by any process counts at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

__all__ = [
    "KEY_ID_BYTES",
    "KEY_PREFIX",
    "SCOPE_PATTERN",
    "SECRET_BYTES",
    "ApiKey",
    "ApiKeyIssued",
    "ApiKeyRevoked",
    "api_key_uuid",
    "parse_key",
    "secret_digest",
]

KEY_PREFIX = "lk_"
SCOPE_PATTERN = r"^(admin|service|auditor|customer:[A-Za-z0-9._:-]{1,128})$"
_SCOPE = re.compile(SCOPE_PATTERN)
# A namespace of the API's own, so key ids can never alias the ledger's derived ids.
_API_KEY_NAMESPACE = UUID("0b6f1d2e-8c1a-4f0e-a6a9-3f1f5f0d7c42")
KEY_ID_BYTES = 8
_KEY_ID = re.compile(f"[0-9a-f]{{{2 * KEY_ID_BYTES}}}")  # a key id: lower-case hex
SECRET_BYTES = 32


def api_key_uuid(key_id: str) -> UUID:
    """The aggregate id of a key id."""
    return uuid5(_API_KEY_NAMESPACE, f"api-key/{key_id}")


def secret_digest(secret: str) -> str:
    """What is stored of a key's secret: its sha256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyEvent(Aggregate.Event):
    """Base of the API key's events."""


class ApiKeyIssued(ApiKeyEvent, Aggregate.Created):
    """A key was issued; its secret is recorded only as a sha256 digest."""

    TOPIC = "ledger:ApiKey.Issued"
    key_id: str
    secret_sha256: str
    scopes: list[str]
    name: str
    issued_at: datetime

    def apply(self, aggregate: Any) -> None:
        key: ApiKey = aggregate
        key.key_id = self.key_id
        key.secret_sha256 = self.secret_sha256
        key.scopes = list(self.scopes)
        key.name = self.name
        key.issued_at = self.issued_at
        key.revoked_at = None


class ApiKeyRevoked(ApiKeyEvent):
    """The key stops working from now on; it can never be restored."""

    TOPIC = "ledger:ApiKey.Revoked"
    revoked_at: datetime

    def apply(self, aggregate: Any) -> None:
        key: ApiKey = aggregate
        key.revoked_at = self.revoked_at


class ApiKey(Aggregate):
    """One API key: its scopes, its name and whether it was revoked."""

    TOPIC = "ledger:ApiKey"
    Event = ApiKeyEvent
    Created = ApiKeyIssued

    key_id: str
    secret_sha256: str
    scopes: list[str]
    name: str
    issued_at: datetime
    # A default, because the aggregate's annotated fields become its __init__ parameters and
    # the Issued event has no revoked_at to give.
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls, *, key_id: str, secret: str, scopes: Iterable[str], name: str, at: datetime
    ) -> ApiKey:
        """Create a key whose secret is ``secret``; only its digest is recorded."""
        scope_list = sorted(set(scopes))
        if not scope_list or not all(_SCOPE.fullmatch(s) for s in scope_list):
            raise ValueError(f"invalid scopes {scope_list!r}")
        return cls._create(
            ApiKeyIssued,
            id=api_key_uuid(key_id),
            key_id=key_id,
            secret_sha256=secret_digest(secret),
            scopes=scope_list,
            name=name,
            issued_at=at,
        )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, at: datetime) -> None:
        """Revoke the key; revoking a revoked key changes nothing."""
        if not self.is_revoked:
            self.trigger_event(ApiKeyRevoked, revoked_at=at)

    def accepts(self, secret: str) -> bool:
        """Whether ``secret`` is this key's and the key still works (constant time)."""
        same = hmac.compare_digest(secret_digest(secret), self.secret_sha256)
        return same and not self.is_revoked


for _event_class in (ApiKeyIssued, ApiKeyRevoked):
    register_topic(_event_class.TOPIC, _event_class)


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split ``lk_<key_id>_<secret>`` into its key id and secret; None if malformed."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = presented.removeprefix(KEY_PREFIX).partition("_")
    if not secret or not _KEY_ID.fullmatch(key_id):
        return None
    return key_id, secret
