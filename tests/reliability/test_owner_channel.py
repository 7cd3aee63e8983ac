"""The owner channel under a real crash: the process deciding a shard's commands is
SIGKILLed while another process is sending it commands (decision 0016).

Two API processes on one shard: the first owns it and announces its channel; retrying
clients send everything to the second, which handles each request and has the owner decide
it. When the owner dies, commands in flight answer 503 (the clients retry with the same
key), the next connection is refused and the second process takes the shard over. Whatever
the clients were told is in the ledger exactly once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.reliability.fleet import api_processes, running
from tests.support.live_server import TEST_ADMIN_KEY, server_env
from tests.support.reliability.checks import compare, read_records, reconcile, wait_projected
from tests.support.reliability.cluster import throwaway_cluster
from tests.support.reliability.common import (
    CLIENTS,
    admin_client,
    report,
    seed_wallets,
    service_key,
)
from tests.support.reliability.load import GIVE_UP_SECONDS, ClientLog, Keys, run_clients
from tests.support.reliability.processes import WorkerProcess

pytestmark = pytest.mark.reliability

SEED_CREDITS = 1_000
BEFORE_KILL_SECONDS = 3.0
AFTER_KILL_SECONDS = 5.0
"""Longer than a lease (3 s): the commands after the kill are decided by the survivor."""


def _lease(database_url: str) -> tuple[str, str]:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT url, channel FROM ledger_shard_owners WHERE shard = 0"
        ).fetchone()
    assert row is not None, "nobody holds shard 0"
    return str(row[0]), str(row[1])


def test_an_owner_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with throwaway_cluster() as cluster:
        env = server_env(cluster.url)
        env["LEDGER_SHARDS"] = "1"
        owner, receiver = api_processes(env, logs, 2)
        with running(owner, receiver, WorkerProcess(env, logs)):
            url, channel = _lease(cluster.url)
            assert url == owner.url  # the first process took the shard
            assert channel.startswith("ledger-channel://")  # and announced its channel
            with admin_client(receiver.url) as admin:
                seeded = seed_wallets(admin, {"hot": 100, "warm": 0}, SEED_CREDITS)
                keys = Keys(service=service_key(admin), admin=TEST_ADMIN_KEY)
            stop = threading.Event()
            picks = ["hot", "hot", "hot", "warm"]
            threads, clients = run_clients(receiver.url, keys, picks, CLIENTS, stop)
            time.sleep(BEFORE_KILL_SECONDS)
            owner.kill()
            time.sleep(AFTER_KILL_SECONDS)
            stop.set()
            for thread in threads:
                thread.join(GIVE_UP_SECONDS + 30)
            taken_over, _ = _lease(cluster.url)
            log = ClientLog()
            for client in clients:
                log.merge(client.log)
            with admin_client(receiver.url) as admin:
                records = read_records(admin, list(seeded))
                trial_balance = wait_projected(admin)
        reconciled = reconcile(env)

    findings = compare(log, records, seeded)
    report(
        "owner_channel_killed_owner",
        {
            "clients": CLIENTS,
            "operations": log.operations,
            "answers": dict(log.statuses),
            "acknowledged_debits": len(log.acked_debits),
            "lost": findings.lost,
            "duplicated": len(findings.duplicate_debits),
            "unknown": len(findings.unknown_debits),
        },
    )
    assert not any(thread.is_alive() for thread in threads), "a client never settled"
    assert taken_over == receiver.url  # the survivor decides the shard now
    assert log.undecided == []
    assert log.unexpected == []
    assert findings.problems() == {}
    assert log.acked_debits, "the load acknowledged no debit: nothing was tested"
    assert trial_balance["balanced"] is True
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
