"""The shard map: how many shards a store was set up with, recorded once in the home shard.

A process that routed wallets with a different count would look for them in the wrong
tables and could open a wallet twice, so the count is a fact of the store, not a setting of
each process: the first process given ``LEDGER_SHARDS`` > 1 records it, every later one
reads it (whatever its own setting says, if it has none) and refuses to start if told a
different count. A store without a map has one shard, exactly as before shards existed, and
nothing is recorded for it (its log stays as it was). An unsharded store that already
holds wallets cannot simply be given more shards (its wallets would be looked for
elsewhere): see "Shards" in docs/operations.md for how to move to another count.
"""

from __future__ import annotations

from typing import Any, Protocol

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.domain.events import WalletOpened
from ledger.domain.ids import ledger_uuid5

__all__ = ["SHARD_MAP_ID", "ShardCountMismatch", "ShardMap", "check_shard_count"]

SHARD_MAP_ID = ledger_uuid5("shard-map")


class ShardCountMismatch(ValueError):
    """The store's recorded shard count differs from the one this process was given."""


class ShardMapEvent(Aggregate.Event):
    pass


class ShardMapFixed(ShardMapEvent, Aggregate.Created):
    TOPIC = "ledger:ShardMap.Fixed"
    count: int

    def apply(self, aggregate: Any) -> None:
        shard_map: ShardMap = aggregate
        shard_map.count = self.count


class ShardMap(Aggregate):
    TOPIC = "ledger:ShardMap"
    Event = ShardMapEvent
    Created = ShardMapFixed

    count: int

    @classmethod
    def fix(cls, count: int) -> ShardMap:
        return cls._create(ShardMapFixed, id=SHARD_MAP_ID, count=count)


class _Home(Protocol):
    recorder: Any

    def find(self, aggregate_id: Any) -> Any | None: ...

    def save(self, *objs: Any, **kwargs: Any) -> Any: ...


def _validated(wanted: int | None, limit: int) -> int | None:
    if wanted is not None and not 1 <= wanted <= limit:
        raise ValueError(f"LEDGER_SHARDS must be between 1 and {limit}, got {wanted}")
    return wanted


def check_shard_count(home: _Home, wanted: int | None, limit: int) -> tuple[int, bool]:
    """The store's shard count, and whether it was recorded now (the store's first start).

    Raises :class:`ShardCountMismatch` if ``wanted`` (``LEDGER_SHARDS``) differs from the
    recorded count, or if more than one shard is asked of a store that already has wallets
    but no shard map (a store from before shards: one shard).
    """
    wanted = _validated(wanted, limit)
    for _ in range(2):  # a concurrent first start records it first: read theirs
        found: ShardMap | None = home.find(SHARD_MAP_ID)
        if found is not None:
            if wanted is not None and wanted != found.count:
                raise ShardCountMismatch(
                    f"the store was set up with {found.count} shard(s), "
                    f"LEDGER_SHARDS={wanted}; see 'Shards' in docs/operations.md"
                )
            return found.count, False
        count = wanted or 1
        empty = _is_empty(home)
        if count == 1 and not empty:
            return 1, False  # a store from before shards: one shard, nothing recorded
        if not empty and _has_wallets(home):
            raise ShardCountMismatch(
                f"the store already holds wallets in one shard; LEDGER_SHARDS={count} "
                "needs a migration (see 'Shards' in docs/operations.md)"
            )
        try:
            home.save(ShardMap.fix(count))
        except IntegrityError:
            continue
        return count, True
    raise RuntimeError("the shard map could neither be read nor recorded")


def _is_empty(home: _Home) -> bool:
    return len(home.recorder.select_notifications(start=1, limit=1)) == 0


def _has_wallets(home: _Home) -> bool:
    page = home.recorder.select_notifications(start=1, limit=1, topics=[WalletOpened.TOPIC])
    return len(page) > 0
