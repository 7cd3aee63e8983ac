"""Ids the ledger derives from client-chosen ones (uuid5, one namespace, never changed).

Derived ids make "create" commands collide in the store when repeated, which is how the
ledger detects an existing wallet, a reused idempotency key or a reused hold id atomically.
"/" never occurs in a wallet id, so the derivation strings cannot alias each other.
"""

from __future__ import annotations

from uuid import UUID, uuid5

__all__ = ["LEDGER_NAMESPACE", "hold_record_id", "receipt_id", "wallet_uuid"]

LEDGER_NAMESPACE = UUID("5d0f6f1c-3a58-4d5e-9b7a-6b1f3f0c2e11")


def wallet_uuid(wallet_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"wallet/{wallet_id}")


def receipt_id(scope: str, key: str) -> UUID:
    """Scope is a wallet id, or ``""`` for server-wide commands (opening wallets)."""
    return uuid5(LEDGER_NAMESPACE, f"receipt/{scope}/{key}")


def hold_record_id(wallet_id: str, hold_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"hold/{wallet_id}/{hold_id}")
