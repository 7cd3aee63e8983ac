"""Shard leases in PostgreSQL (decision 0016): each shard has one owner at a time, processes
share the shards fairly, and a dead owner's shards are taken over."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.shard_owners import ShardOwners
from ledger.app.service import CreditLedger
from tests.support.postgres import real_clock_ledger, schema_url

SHARDS = 4


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str) -> Iterator[CreditLedger]:
    ledger = real_clock_ledger(schema_url(postgres_url, pg_schema, pool_size=4))
    yield ledger
    ledger.close()


def _member(ledger: CreditLedger, port: int, lease: float = 1.0) -> ShardOwners:
    return ShardOwners(
        ledger.recorder.datastore,  # type: ignore[attr-defined]
        SHARDS,
        f"http://127.0.0.1:{port}",
        lease_seconds=lease,
        channel=f"ledger-channel://token-{port}@127.0.0.1:{port + 1000}",
    )


def _settle(*members: ShardOwners, rounds: int = 6) -> None:
    for _ in range(rounds):
        for member in members:
            member.renew()


def test_a_lone_process_owns_every_shard(ledger: CreditLedger) -> None:
    alone = _member(ledger, 1)
    alone.start()
    try:
        assert all(alone.owns(k) for k in range(SHARDS))
        assert all(alone.owner_url(k) is None for k in range(SHARDS))
    finally:
        alone.close()


def test_processes_share_the_shards_and_each_shard_has_one_owner(ledger: CreditLedger) -> None:
    first, second = _member(ledger, 1), _member(ledger, 2)
    first.start()
    second.start()
    try:
        _settle(first, second)
        for member in (first, second):
            member.renew()
        owned = (
            [k for k in range(SHARDS) if first.owns(k)],
            [k for k in range(SHARDS) if second.owns(k)],
        )
        assert sorted(owned[0] + owned[1]) == list(range(SHARDS))  # each shard exactly once
        assert len(owned[0]) == len(owned[1]) == SHARDS // 2
        for shard in owned[1]:
            assert first.owner_url(shard) == second.url  # the other's address, to forward to
            assert first.owner_channel(shard) == second.channel  # and its owner channel
        for shard in owned[0]:
            assert first.owner_channel(shard) is None  # its own: decided here
    finally:
        first.close()
        second.close()


def test_a_dead_owners_shards_are_taken_once_its_lease_expires(ledger: CreditLedger) -> None:
    survivor, doomed = _member(ledger, 1), _member(ledger, 2)
    survivor.renew()
    doomed.renew()
    _settle(survivor, doomed)
    assert any(doomed.owns(k) for k in range(SHARDS))
    # The doomed process stops renewing (killed): nothing is given back.
    time.sleep(1.2)
    _settle(survivor, rounds=2)
    assert all(survivor.owns(k) for k in range(SHARDS))


def test_a_process_restarted_at_its_address_replaces_its_predecessor_at_once(
    ledger: CreditLedger,
) -> None:
    # Given three processes sharing the shards, then the second killed (its row and leases,
    # 30 s long, left behind) and started again at the same address
    first, doomed, third = (_member(ledger, port, lease=30.0) for port in (1, 2, 3))
    _settle(first, doomed, third)
    held = {m.url: {k for k in range(SHARDS) if m.owns(k)} for m in (first, doomed, third)}
    assert held[doomed.url], "the process to kill owned no shard"
    restarted = _member(ledger, 2, lease=30.0)

    # When the restarted process and the others run their rounds
    _settle(restarted, first, third, rounds=3)

    # Then the predecessor's shards are the restarted process's now (not left to a 30 s
    # lease), and the others kept theirs: the dead process was not counted in the shares
    assert {k for k in range(SHARDS) if restarted.owns(k)} == held[doomed.url]
    assert {k for k in range(SHARDS) if first.owns(k)} == held[first.url]
    assert {k for k in range(SHARDS) if third.owns(k)} == held[third.url]


def test_an_owner_refusing_connections_is_replaced_at_once(ledger: CreditLedger) -> None:
    survivor, doomed = _member(ledger, 1, lease=30.0), _member(ledger, 2, lease=30.0)
    _settle(survivor, doomed)
    shard = next(k for k in range(SHARDS) if doomed.owns(k))
    assert survivor.owner_url(shard) == doomed.url
    survivor.take_over(shard, doomed.url)  # long before the 30 s lease would expire
    assert survivor.owns(shard)
    assert survivor.owner_url(shard) is None
    assert survivor.owner_channel(shard) is None
    doomed.renew()  # a late look: the shard is the survivor's, with its channel
    assert doomed.owner_channel(shard) == survivor.channel


def test_closing_gives_the_leases_back(ledger: CreditLedger) -> None:
    leaving, staying = _member(ledger, 1, lease=30.0), _member(ledger, 2, lease=30.0)
    _settle(leaving, staying)
    leaving.close()
    _settle(staying, rounds=2)
    assert all(staying.owns(k) for k in range(SHARDS))
