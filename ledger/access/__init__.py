"""Access: the event-sourced API key aggregate and the rules for its keys, scopes and secrets
(nothing web-specific).
"""

from __future__ import annotations

from ledger.access.keys import (
    KEY_ID_BYTES,
    KEY_PREFIX,
    SCOPE_PATTERN,
    SECRET_BYTES,
    ApiKey,
    ApiKeyIssued,
    ApiKeyRevoked,
    api_key_uuid,
    parse_key,
    secret_digest,
)

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
