"""Ids the ledger derives from client-chosen ones (uuid5, one namespace, never changed).

Derived ids make "create" commands collide in the store when repeated, which is how the
ledger detects an existing wallet, a reused idempotency key or a reused hold id atomically.
"/" never occurs in a wallet id, so the derivation strings cannot alias each other.
"""

from __future__ import annotations

from uuid import UUID, uuid5

__all__ = [
    "LEDGER_NAMESPACE",
    "PRICE_BOOKS_SCOPE",
    "hold_record_id",
    "price_book_uuid",
    "receipt_id",
    "wallet_uuid",
]

LEDGER_NAMESPACE = UUID("5d0f6f1c-3a58-4d5e-9b7a-6b1f3f0c2e11")

PRICE_BOOKS_SCOPE = "#price-books"
"""The receipt scope of price book commands (server-wide, like wallet creation's ``""``).

``#`` is not an id character, so no wallet id equals it and ``receipt/{scope}/{key}`` of a
price book can never alias a wallet's receipt, whatever the keys contain.
"""


def wallet_uuid(wallet_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"wallet/{wallet_id}")


def receipt_id(scope: str, key: str) -> UUID:
    """Scope is a wallet id, ``""`` for opening wallets or :data:`PRICE_BOOKS_SCOPE`."""
    return uuid5(LEDGER_NAMESPACE, f"receipt/{scope}/{key}")


def hold_record_id(wallet_id: str, hold_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"hold/{wallet_id}/{hold_id}")


def price_book_uuid(price_book_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"price-book/{price_book_id}")
