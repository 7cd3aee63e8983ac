"""Wiring, in one place: the shards, each shard's writer, and the services over them.

:func:`wire` is called once by the facade (:class:`ledger.app.service.CreditLedger`, which is
the home shard's application): it opens shards 1..n-1 from the store's shard map, gives every
shard its writer (group commit unless ``LEDGER_GROUP_COMMIT=n``), and builds the services,
each of which gets only what it uses. The layers above the application (the API, the CLI, the
projection workers) also take their store settings and errors from here, because
:mod:`ledger.store` is reached only from :mod:`ledger.app`.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.utils import strtobool

from ledger.app.allowances import Allowances
from ledger.app.application import LedgerApplication
from ledger.app.committer import Committer
from ledger.app.direct import DirectWriter
from ledger.app.ports import Writer
from ledger.app.pricing import Pricing
from ledger.app.reads import Reads
from ledger.app.shard_ingest import UsageIngest
from ledger.app.shards import MAX_SHARDS
from ledger.app.spending import Spending
from ledger.app.wallets import Wallets
from ledger.store.env import store_env
from ledger.store.layout import apply_layout, layout_count
from ledger.store.shard_map import ShardCountMismatch, check_shard_count

__all__ = ["Services", "ShardCountMismatch", "open_shards", "store_env", "wire"]


@dataclass(frozen=True)
class Services:
    """The application services of one ledger, composed over its shards."""

    wallets: Wallets
    spending: Spending
    pricing: Pricing
    usage: UsageIngest
    reads: Reads
    allowances: Allowances


def wire(home: LedgerApplication, *, group_commit: bool | None = None) -> Services:
    """Open the shards beside ``home``, give each its writer and build the services.

    ``group_commit`` None reads ``LEDGER_GROUP_COMMIT`` (or ``GROUP_COMMIT``): on unless "n".
    """
    if group_commit is None:
        group_commit = strtobool(home.env.get("GROUP_COMMIT", "y"))
    open_shards(home)
    for shard in home.shards:
        shard.writer = writer_for(shard, group_commit=group_commit)
    pricing = Pricing(home)
    wallets = Wallets(home)
    reads = Reads(home)
    return Services(
        wallets=wallets,
        spending=Spending(wallets, pricing),
        pricing=pricing,
        usage=UsageIngest(home, pricing),
        reads=reads,
        allowances=Allowances(wallets, reads),
    )


def writer_for(shard: LedgerApplication, *, group_commit: bool) -> Writer:
    """With group commit, one thread per shard decides and commits wallet commands in
    batches (ledger.app.committer); without, each caller runs its own decide-save loop."""
    return Committer(shard) if group_commit else DirectWriter(shard)


def open_shards(home: LedgerApplication) -> None:
    """Open shards 1..n-1 beside ``home`` (n from the store's shard map, recorded there by the
    first process given ``LEDGER_SHARDS`` > 1); every shard shares ``home.shards``."""
    try:
        # Fleet (decision 0017): the count may come from LEDGER_SHARD_URLS.
        wanted = layout_count(home.env, home.env.get("SHARDS"))
        count, new = check_shard_count(home, wanted, MAX_SHARDS)
    except BaseException:
        home.close()
        raise
    for index in range(1, count):
        try:
            shard = LedgerApplication(
                dict(home.given_env),
                clock=home.clock,
                max_attempts=home.max_attempts,
                on_conflict=home.on_conflict,
                shard_index=index,
            )
        except BaseException:
            home.close()
            raise
        shard.home = home
        shard.shards = home.shards
        home.shards.append(shard)
        if new and shard.recorder.select_notifications(start=1, limit=1):
            home.close()  # tables of another store: its wallets would be found here
            raise ShardCountMismatch(f"shard {index} of a new store already holds events")
    try:
        apply_layout(home.shards, home.env, new=new)  # seals per shard (decision 0017)
    except BaseException:
        home.close()
        raise
