"""Usage ingest batches and what the ledger recorded of them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.app.service import CreditLedger
from ledger.metering.usage import USAGE_BATCH_TOPIC, UsageBatch

__all__ = ["batches", "recorded", "usage"]


def usage(event_id: str = "e-1", wallet_id: str = "acme", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": event_id,
        "wallet_id": wallet_id,
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"user_id": "u1", "model": "gpt"},
        "quantities": {"input_tokens": 1200, "output_tokens": 350},
        "properties": {},
    }
    event.update(fields)
    return event


def batches(ledger: CreditLedger) -> list[UsageBatch]:
    page = ledger.recorder.select_notifications(start=1, limit=1000, topics=[USAGE_BATCH_TOPIC])
    found: list[object] = [ledger.repository.get(UUID(str(n.originator_id))) for n in page]
    return [b for b in found if isinstance(b, UsageBatch)]


def recorded(ledger: CreditLedger) -> list[dict[str, Any]]:
    return [record for batch in batches(ledger) for record in batch.usage]
