"""Shards: wallets spread over several event stores by a stable hash of the wallet id.

Each shard is a ledger application with its own tables (on Postgres ``ledger_events`` for
shard 0, ``ledger_s<k>_events``, ``ledger_s<k>_snapshots``, ... for shard ``k``; on SQLite a
file per shard, ``ledger.s<k>.sqlite3`` beside ``ledger.sqlite3``), so its own table lock,
its own committer thread and its own notification log. Everything about one wallet (its
events, receipts, hold and debit records, usage ids, alert settings) lives in the wallet's shard,
so every command still commits in one transaction on one store.
Server-wide things (API keys, price books, meters, webhooks, the shard map) live in shard 0,
the *home* shard.

Log positions stay one integer: shard ``k``'s notification ``n`` is ``k << 48 | n``. Shard 0's
positions are its notification ids, unchanged from an unsharded store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from hashlib import blake2b
from pathlib import PurePath
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from eventsourcing.utils import Environment

__all__ = [
    "MAX_SHARDS",
    "SHARD_BITS",
    "ShardEnvironment",
    "Sharded",
    "decode_position",
    "encode_position",
    "on_wallet_shard",
    "route",
    "shard_name",
    "shard_of",
    "sqlite_shard_path",
]

SHARD_BITS = 48
"""Bits of a position that hold the notification id (2^48 ids per shard)."""
MAX_SHARDS = 1024
_ID_MASK = (1 << SHARD_BITS) - 1


def shard_of(wallet_id: str, count: int) -> int:
    """The shard of ``wallet_id`` among ``count``: stable across processes and releases
    (BLAKE2b of the UTF-8 id, never Python's salted ``hash``)."""
    if count == 1:
        return 0
    digest = blake2b(wallet_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def encode_position(shard: int, notification_id: int) -> int:
    """One integer for notification ``notification_id`` of ``shard``."""
    if not 0 <= notification_id <= _ID_MASK:
        raise ValueError(f"notification id {notification_id} does not fit {SHARD_BITS} bits")
    return (shard << SHARD_BITS) | notification_id


def decode_position(position: int) -> tuple[int, int]:
    """``(shard, notification_id)`` of an encoded position."""
    if position < 0:
        raise ValueError("a position is never negative")
    return position >> SHARD_BITS, position & _ID_MASK


def sqlite_shard_path(dbname: str, shard: int) -> str:
    """The SQLite file of ``shard`` beside the home file: ``ledger.sqlite3`` ->
    ``ledger.s1.sqlite3`` (ValueError for URIs and in-memory names: use ``memory://``)."""
    if shard == 0:
        return dbname
    if dbname.startswith("file:") or ":memory:" in dbname or "mode=memory" in dbname:
        # A URI or an in-memory name would be shared by every shard (one table for all).
        raise ValueError(f"SQLite shards need a plain file path, not {dbname!r}")
    path = PurePath(dbname)
    return str(path.with_name(f"{path.stem}.s{shard}{path.suffix}"))


def shard_name(base: str, shard: int) -> str:
    """The application name (hence table prefix) of ``shard``: ``Ledger``, ``Ledger_s1``…"""
    return base if shard == 0 else f"{base}_s{shard}"


class ShardEnvironment(Environment):
    """Settings of shard ``k``: its own name for tables, the base name's settings otherwise.

    eventsourcing names tables after ``name`` and looks settings up as ``NAME_KEY`` then
    ``KEY``; a shard also reads ``LEDGER_KEY``, so one set of ``LEDGER_*`` settings
    configures every shard.
    """

    def __init__(self, name: str, env: dict[str, str], base: str) -> None:
        super().__init__(name, env)
        self.base = base

    def create_keys(self, key: str) -> list[str]:
        keys = [f"{self.name.upper()}_{key}"]
        if self.base.upper() != self.name.upper():
            keys.append(f"{self.base.upper()}_{key}")
        keys.append(key)
        return keys


T = TypeVar("T")


def route(shards: Sequence[T], wallet_id: str) -> T:
    """The one of ``shards`` that holds ``wallet_id``."""
    return shards[shard_of(wallet_id, len(shards))]


class Sharded(Protocol):
    def shard_for(self, wallet_id: str) -> Any: ...


S = TypeVar("S", bound=Sharded)
P = ParamSpec("P")
R = TypeVar("R")


def _wallet_id_of(first: Any) -> str | None:
    if isinstance(first, str):
        return first
    wallet_id = getattr(first, "wallet_id", None)
    return wallet_id if isinstance(wallet_id, str) else None


def on_wallet_shard(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run ``method`` on the shard of the wallet it is about.

    The wallet id is the first argument (a string) or that argument's ``wallet_id`` (a
    command). The whole method moves, not just its save, so every read it makes (receipts,
    hold records) goes to the store that holds them. An argument without a usable wallet id
    stays where it is (the method refuses it as bad input).
    """

    def routed(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if not args:
            raise TypeError(f"{method.__name__} takes its wallet id (or command) positionally")
        wallet_id = _wallet_id_of(args[0])
        target = self if wallet_id is None else self.shard_for(wallet_id)
        return method(target, *args, **kwargs)

    functools.update_wrapper(routed, method)
    return routed
