"""Ids the ledger derives from client-chosen ones (uuid5, one namespace, never changed).

Derived ids make "create" commands collide in the store when repeated, which is how the
ledger detects an existing wallet, a reused idempotency key or a reused hold id atomically.
"/" never occurs in a wallet id, so the derivation strings cannot alias each other.
"""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, SafeUUID

__all__ = [
    "LEDGER_NAMESPACE",
    "PRICE_BOOKS_SCOPE",
    "hold_record_id",
    "ledger_uuid5",
    "price_book_uuid",
    "receipt_id",
    "wallet_uuid",
]

LEDGER_NAMESPACE = UUID("5d0f6f1c-3a58-4d5e-9b7a-6b1f3f0c2e11")
_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))  # the variant and version bits
_SET = (0x8000 << 48) | (5 << 76)  # RFC 4122 variant, version 5


def ledger_uuid5(name: str) -> UUID:
    """``uuid.uuid5(LEDGER_NAMESPACE, name)``, the same UUID at a third of the cost.

    The standard function imports ``hashlib`` and runs ``UUID.__init__``'s checks on every
    call; a debit derives two ids (4 % of its server CPU before). Equal to ``uuid5`` for
    every name (tests/property/test_ids.py).
    """
    digest = sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", (int.from_bytes(digest[:16], "big") & _CLEAR) | _SET)
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


PRICE_BOOKS_SCOPE = "#price-books"
"""The receipt scope of price book commands (server-wide, like wallet creation's ``""``).

``#`` is not an id character, so no wallet id equals it and ``receipt/{scope}/{key}`` of a
price book can never alias a wallet's receipt, whatever the keys contain.
"""


def wallet_uuid(wallet_id: str) -> UUID:
    return ledger_uuid5(f"wallet/{wallet_id}")


def receipt_id(scope: str, key: str) -> UUID:
    """Scope is a wallet id, ``""`` for opening wallets or :data:`PRICE_BOOKS_SCOPE`."""
    return ledger_uuid5(f"receipt/{scope}/{key}")


def hold_record_id(wallet_id: str, hold_id: str) -> UUID:
    return ledger_uuid5(f"hold/{wallet_id}/{hold_id}")


def price_book_uuid(price_book_id: str) -> UUID:
    return ledger_uuid5(f"price-book/{price_book_id}")
