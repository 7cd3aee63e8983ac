"""API keys this process has verified, so a spending request needs no store read to start.

Checking a key against the store costs a read per request (the largest single cost of a
debit on the request path once the decision itself is batched). For the spending routes
(``CHECKED_AT_COMMIT`` in their ``opt``) the API instead accepts a key this process has
already verified, and hands the command a :class:`KeyFence`: the ledger's committer confirms
the fence against the store just before it decides the command, once per batch for every
command sent with the same key. A revocation by any process therefore still counts at once
— a command decided after the revocation is saved is refused as ``unauthenticated`` and
records nothing — but a batch of 100 debits sent with one key costs one read, not 100.

Every other route checks the key against the store on each request, as before. What a key
is allowed to do (its scopes) never changes after it is issued, so a cached copy can only
be out of date by being revoked, which is what the fence checks.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast

from litestar.datastructures import State

from api.errors import Unauthenticated
from ledger.access.keys import ApiKey, api_key_uuid, parse_key, secret_digest
from ledger.app.application import LedgerApplication
from ledger.app.guards import Guard
from ledger.app.keys import stored_key, verify_key

__all__ = [
    "CHECKED_AT_COMMIT",
    "KEY_CACHE_KEY",
    "KeyCache",
    "KeyFence",
    "VerifiedKey",
    "key_cache_of",
]

CHECKED_AT_COMMIT = "key_checked_at_commit"
"""Route ``opt`` flag: the route passes the caller's :class:`KeyFence` to the ledger."""
KEY_CACHE_KEY = "api_key_cache"
"""Where the app keeps its :class:`KeyCache` (``app.state``)."""


@dataclass(frozen=True, slots=True)
class KeyFence:
    """The caller's key must still be at ``version`` (issued, not revoked) when the ledger
    decides its command. Equal fences (same key and version) are confirmed once per batch."""

    key_id: str
    version: int
    cache: KeyCache = field(compare=False, hash=False, repr=False)

    def check(self, ledger: LedgerApplication) -> None:
        key = stored_key(ledger.home, self.key_id)
        if key is None or key.version != self.version or key.is_revoked:
            self.cache.forget(self.key_id)
            raise Unauthenticated("the API key is unknown or revoked")

    def guard(self) -> Guard:
        """The same fact for the store to check in the batch's own commit (decision 0027):
        the key's aggregate has no event past ``version`` (a revocation would be one)."""
        return Guard(api_key_uuid(self.key_id), self.version)


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    key_id: str
    scopes: frozenset[str]
    fence: KeyFence


@dataclass(frozen=True, slots=True)
class _Known:
    secret_sha256: str
    scopes: frozenset[str]
    version: int


class KeyCache:
    """Keys verified against the store by this process, by key id (bounded, least recently
    used first out). Only the secret's digest is kept, as in the store."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._lock = threading.Lock()  # the event loop and worker threads both use it

    def cached(self, presented: str) -> VerifiedKey | None:
        """The key ``presented`` stands for if this process verified it before (no I/O)."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._lock:
            known = self._known.get(key_id)
            if known is not None:
                self._known.move_to_end(key_id)
        if known is None or not hmac.compare_digest(secret_digest(secret), known.secret_sha256):
            return None
        return VerifiedKey(key_id, known.scopes, KeyFence(key_id, known.version, self))

    def verify(self, ledger: LedgerApplication, presented: str) -> VerifiedKey | None:
        """Check ``presented`` against the store (blocking I/O) and remember it if it works."""
        key = verify_key(ledger, presented)
        if key is None:
            parsed = parse_key(presented)
            if parsed is not None:
                self.forget(parsed[0])
            return None
        self._remember(key)
        fence = KeyFence(key.key_id, key.version, self)
        return VerifiedKey(key.key_id, frozenset(key.scopes), fence)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._known.pop(key_id, None)

    def _remember(self, key: ApiKey) -> None:
        known = _Known(key.secret_sha256, frozenset(key.scopes), key.version)
        with self._lock:
            self._known[key.key_id] = known
            self._known.move_to_end(key.key_id)
            while len(self._known) > self._size:
                self._known.popitem(last=False)


def key_cache_of(state: State) -> KeyCache:
    """The app's key cache (put on ``app.state`` by ``create_app``)."""
    return cast("KeyCache", state[KEY_CACHE_KEY])
