"""Usage ingest over the shards: each shard records its own wallets' events.

The batch is split by the shard of each event's wallet (an event without a usable wallet id
goes to the home shard, which rejects it with its index), each part is ingested by its
shard exactly as an unsharded batch is, and the answers are merged back into one, with
every rejection at its index in the batch as sent.

The parts commit separately, one transaction per shard: if a later part fails (the store
is overloaded), the earlier parts stay recorded and the error is answered. Retrying the
same batch is safe: the recorded events come back as ``duplicates``, the rest are recorded
(accepted + duplicates over the retries add up to the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger.app.application import LedgerApplication
from ledger.app.commands import IngestUsage
from ledger.app.executor import Outcome
from ledger.app.pricing import Pricing
from ledger.app.service_usage import ShardIngest
from ledger.app.shards import shard_of
from ledger.domain.validation import fail
from ledger.metering.ingest import MAX_BATCH

__all__ = ["UsageIngest", "merge_outcomes", "split_by_shard"]


def _wallet_id(raw: object) -> str | None:
    value = raw.get("wallet_id") if isinstance(raw, Mapping) else getattr(raw, "wallet_id", None)
    return value if isinstance(value, str) else None


def split_by_shard(events: Sequence[object], count: int) -> dict[int, list[int]]:
    """Indexes of ``events`` per shard, in batch order."""
    parts: dict[int, list[int]] = {}
    for index, raw in enumerate(events):
        wallet_id = _wallet_id(raw)
        shard = 0 if wallet_id is None else shard_of(wallet_id, count)
        parts.setdefault(shard, []).append(index)
    return parts


def merge_outcomes(parts: Sequence[tuple[list[int], Outcome]]) -> Outcome:
    """One answer for the whole batch; the position is the last written part's."""
    accepted = duplicates = late = uncollected = 0
    rejected: list[dict[str, Any]] = []
    uncollected_events: list[dict[str, Any]] = []
    position = None
    for indexes, outcome in parts:
        body = outcome.body
        accepted += body["accepted"]
        duplicates += body["duplicates"]
        late += body["late"]
        rejected.extend({**r, "index": indexes[r["index"]]} for r in body["rejected"])
        uncollected += body["uncollected"]
        uncollected_events.extend(
            {**e, "index": indexes[e["index"]]} for e in body["uncollected_events"]
        )
        if outcome.position is not None:
            position = outcome.position
    rejected.sort(key=lambda r: int(r["index"]))
    uncollected_events.sort(key=lambda e: int(e["index"]))
    body = {
        "accepted": accepted,
        "duplicates": duplicates,
        "late": late,
        "rejected": rejected,
        "uncollected": uncollected,
        "uncollected_events": uncollected_events,
    }
    return Outcome(body, replayed=False, position=position)


def ingest_across(
    command: IngestUsage,
    count: int,
    ingest_on: Callable[[int, IngestUsage], Outcome],
) -> Outcome:
    """Ingest ``command`` on ``count`` shards through ``ingest_on(shard, part)``."""
    parts = split_by_shard(command.events, count)
    answered = []
    for shard, indexes in sorted(parts.items()):
        part = IngestUsage(events=[command.events[i] for i in indexes])
        answered.append((indexes, ingest_on(shard, part)))
    return merge_outcomes(answered)


class UsageIngest:
    """``POST /v1/usage-events``: a batch ingested by the shard of each event's wallet."""

    def __init__(self, home: LedgerApplication, pricing: Pricing) -> None:
        self._home = home
        self._shards = [ShardIngest(shard, pricing) for shard in home.shards]

    def ingest_usage(
        self, cmd: IngestUsage | Sequence[object], *, received_at: datetime | None = None
    ) -> Outcome:
        """Record a usage batch (see :class:`ShardIngest`), split over the shards if several."""
        shards = self._shards
        if len(shards) == 1:
            return shards[0].ingest_usage(cmd, received_at=received_at)
        command = cmd if isinstance(cmd, IngestUsage) else IngestUsage(events=list(cmd))
        if len(command.events) > MAX_BATCH:
            raise fail("events", f"must have at most {MAX_BATCH} events")
        at = received_at or self._home.now()  # one receipt time for every part

        def ingest_on(index: int, part: IngestUsage) -> Outcome:
            return shards[index].ingest_usage(part, received_at=at)

        return ingest_across(command, len(shards), ingest_on)
