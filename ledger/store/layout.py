"""The shard layout: which database holds each shard, and the seals that keep it honest.

By default every shard's tables live in the home database. ``LEDGER_SHARD_URLS`` (a
comma-separated list of store URLs, one per shard, shard 0 first and equal to
``LEDGER_DATABASE_URL``) puts shard ``k``'s tables (``ledger_s<k>_*``, same names) in the
database its URL names, typically on another PostgreSQL cluster, so the write path grows
past one server. Every command still commits on one shard, so in one database.

A process given a wrong layout (shard 2's URL pointing at shard 3's cluster, an old URL)
would find the wallets missing and could open them twice, so a store records its layout:
at its first start every shard's store gets a *seal* (:class:`ShardSeal`: the store's
random id and the shard's index), and every later start reads each shard's seal and refuses
to start if one is missing or names another store or index. URLs are not recorded (the
same cluster has other host names from other machines); the seals are what identify a
shard's database. Seals are written only for stores of more than one shard. A sharded store
made before seals existed is sealed at its next start when its layout is the one it had
(every shard in the home database); moving its shards elsewhere goes through
``ledger reshard``. Seals are not copied by ``ledger reshard``: the target has its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.domain.ids import ledger_uuid5
from ledger.store.env import store_env
from ledger.store.shard_map import SHARD_MAP_ID, ShardCountMismatch

__all__ = [
    "SEAL_ID",
    "ShardSeal",
    "apply_layout",
    "check_seals",
    "layout_count",
    "parse_shard_urls",
    "shard_store_settings",
    "store_id",
]

SEAL_ID = ledger_uuid5("shard-seal")
_LOCATION = ("PERSISTENCE_MODULE", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DBNAME",
             "POSTGRES_SCHEMA", "SQLITE_DBNAME")  # fmt: skip


class ShardSealEvent(Aggregate.Event):
    pass


class ShardSealed(ShardSealEvent, Aggregate.Created):
    TOPIC = "ledger:ShardSeal.Sealed"
    store: str
    index: int

    def apply(self, aggregate: Any) -> None:
        seal: ShardSeal = aggregate
        seal.store = self.store
        seal.index = self.index


class ShardSeal(Aggregate):
    """In each shard's own store: which store it belongs to, and as which shard."""

    TOPIC = "ledger:ShardSeal"
    Event = ShardSealEvent
    Created = ShardSealed

    store: str
    index: int

    @classmethod
    def seal(cls, store: str, index: int) -> ShardSeal:
        return cls._create(ShardSealed, id=SEAL_ID, store=store, index=index)


def parse_shard_urls(value: str | None) -> list[str] | None:
    """The URLs of ``LEDGER_SHARD_URLS``, or None when it is unset or empty."""
    if not value or not value.strip():
        return None
    urls = [part.strip() for part in value.split(",")]
    if any(not url for url in urls):
        raise ValueError("LEDGER_SHARD_URLS has an empty entry")
    for url in urls:
        store_env(url)  # ValueError for anything that is no store URL
    return urls


def _location(settings: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(settings.get(key, "") or ("public" if key == "POSTGRES_SCHEMA" else "")
                 for key in _LOCATION)  # fmt: skip


def layout_count(env: Any, wanted: str | None) -> int | None:
    """The shard count a process asks for: ``LEDGER_SHARDS``, or the number of
    ``LEDGER_SHARD_URLS``; ValueError when both are given and differ, or when the first URL
    is not the home store."""
    urls = parse_shard_urls(env.get("SHARD_URLS"))
    count = int(wanted) if wanted else None
    if urls is None:
        return count
    if count is not None and count != len(urls):
        raise ValueError(f"LEDGER_SHARDS={count} but LEDGER_SHARD_URLS names {len(urls)} shards")
    home = {key: env.get(key, "") for key in _LOCATION}
    if _location(store_env(urls[0])) != _location(home):
        raise ValueError(
            "the first of LEDGER_SHARD_URLS must be the home store (LEDGER_DATABASE_URL)"
        )
    return len(urls)


def shard_store_settings(base: Any, own: str, index: int) -> dict[str, str]:
    """Settings that point shard ``index`` (application name ``own``) at its layout's store.

    Keys are prefixed with the shard's own name, which eventsourcing looks up first, so they
    win over the home store's settings and over the process environment.
    """
    urls = parse_shard_urls(base.get("SHARD_URLS"))
    if urls is None or index >= len(urls):
        return {}
    settings = store_env(urls[index])
    if settings["PERSISTENCE_MODULE"] != base.get("PERSISTENCE_MODULE"):
        raise ValueError("every shard of LEDGER_SHARD_URLS must be the same kind of store")
    settings.setdefault("POSTGRES_SCHEMA", "")  # not the home's schema: the URL's, or public
    return {f"{own.upper()}_{key}": value for key, value in settings.items()}


class _Shard(Protocol):
    shard_index: int

    def find(self, aggregate_id: Any) -> Any | None: ...

    def save(self, *objs: Any, **kwargs: Any) -> Any: ...


def store_id(home: _Shard) -> str:
    """The store's id: the same for every process (derived from the moment its shard map was
    recorded), so concurrent first starts write identical seals."""
    shard_map = home.find(SHARD_MAP_ID)
    if shard_map is None:
        raise ShardCountMismatch("a sharded store without a shard map")
    return ledger_uuid5(f"store/{shard_map.created_on.isoformat()}").hex


def check_seals(shards: Sequence[_Shard], *, may_seal: bool) -> None:
    """Refuse a layout whose databases are not this store's shards, in this order.

    ``may_seal``: missing seals may be written now, if the home is not sealed yet — the
    store was created by this start (its shards were checked empty), or every shard lives
    in the home database (the only layout a store made before seals could have).
    """
    if len(shards) < 2:
        return
    store = store_id(shards[0])
    # The home is sealed last: a start that stops part-way leaves it unsealed, to redo;
    # once it is sealed, nothing is sealed any more, only checked.
    if shards[0].find(SEAL_ID) is not None:
        may_seal = False
    for shard in [*shards[1:], shards[0]]:
        seal: ShardSeal | None = shard.find(SEAL_ID)
        if seal is None and may_seal:
            with contextlib.suppress(IntegrityError):  # sealed meanwhile by a concurrent start
                shard.save(ShardSeal.seal(store, shard.shard_index))
            seal = shard.find(SEAL_ID)
        if seal is None or seal.store != store or seal.index != shard.shard_index:
            what = "no seal" if seal is None else f"shard {seal.index} of store {seal.store}"
            raise ShardCountMismatch(
                f"the database given for shard {shard.shard_index} holds {what}, not shard "
                f"{shard.shard_index} of this store ({store}): check LEDGER_SHARD_URLS"
            )


def apply_layout(shards: Sequence[_Shard], env: Any, *, new: bool) -> None:
    """Check (and on a first start, record) the layout of ``shards`` (home first).

    Stores started without ``LEDGER_SHARD_URLS`` and never sealed keep working exactly as
    before (nothing is written); once a store is sealed, every process is checked against
    the seals, including one that forgot ``LEDGER_SHARD_URLS``.
    """
    urls = parse_shard_urls(env.get("SHARD_URLS"))
    if len(shards) < 2 or (urls is None and shards[0].find(SEAL_ID) is None):
        return
    single = urls is None or len({_location(store_env(url)) for url in urls}) == 1
    check_seals(shards, may_seal=new or single)
