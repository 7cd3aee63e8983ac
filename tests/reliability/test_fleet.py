"""A fleet: three API processes behind HAProxy round robin, on the same wallets.

Without shard owners, two processes writing one hot wallet invalidate each other's cached
copy and a share of the commands ends in 503 ``contention``. With them (decision 0016), each
shard is written by its owner and the others forward, so retrying clients on a hot wallet
and on zipfian wallets get no ``contention`` at all, and everything acknowledged is in the
log exactly once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.integration.live_server import TEST_ADMIN_KEY, server_env
from tests.reliability.checks import compare, read_records, reconcile, wait_projected
from tests.reliability.cluster import throwaway_cluster
from tests.reliability.fleet import Balancer, api_processes, running, zipfian_wallets
from tests.reliability.load import GIVE_UP_SECONDS, ClientLog, Keys, run_clients
from tests.reliability.processes import WorkerProcess
from tests.reliability.support import (
    CLIENTS,
    SECONDS,
    admin_client,
    report,
    seed_wallets,
    service_key,
)

pytestmark = pytest.mark.reliability

SEED_CREDITS = 1_000
SHARDS = 4
FLEET_CLIENTS = 4 * CLIENTS
"""Enough concurrent clients that processes without owners do collide (measured with 24:
11 answers 503 ``contention`` in 12 s on one hot wallet, before decision 0016)."""


def _wallets(shape: str) -> tuple[dict[str, int], list[str]]:
    """Wallet -> overdraft limit, and the list clients pick from uniformly."""
    if shape == "hot":
        return {"hot": 100}, ["hot"]
    wallets, picks = zipfian_wallets(12)
    return {w: 50 * (i % 3) for i, w in enumerate(wallets)}, picks


@pytest.mark.parametrize("shape", ["hot", "zipfian"])
def test_replicas_behind_round_robin_answer_no_contention(tmp_path: Path, shape: str) -> None:
    overdrafts, picks = _wallets(shape)
    logs = tmp_path / "logs"
    with throwaway_cluster() as cluster:
        env = server_env(cluster.url)
        env["LEDGER_SHARDS"] = str(SHARDS)
        servers = api_processes(env, logs, 3)
        balancer = Balancer(servers, logs)
        with running(*servers, WorkerProcess(env, logs), balancer):
            with admin_client(balancer.url) as admin:
                seeded = seed_wallets(admin, overdrafts, SEED_CREDITS)
                keys = Keys(service=service_key(admin), admin=TEST_ADMIN_KEY)
            stop = threading.Event()
            started = time.monotonic()
            threads, clients = run_clients(balancer.url, keys, picks, FLEET_CLIENTS, stop)
            time.sleep(SECONDS)
            stop.set()
            for thread in threads:
                thread.join(GIVE_UP_SECONDS + 30)
            seconds = time.monotonic() - started
            log = ClientLog()
            for client in clients:
                log.merge(client.log)
            with admin_client(balancer.url) as admin:
                records = read_records(admin, list(overdrafts))
                trial_balance = wait_projected(admin)
        reconciled = reconcile(env)

    findings = compare(log, records, seeded)
    report(
        f"fleet_{shape}",
        {
            "seconds": round(seconds, 1),
            "clients": FLEET_CLIENTS,
            "operations": log.operations,
            "operations_per_second": round(log.operations / seconds, 1),
            "answers": dict(log.statuses),
            "contention": len(log.contention),
        },
    )
    assert not any(thread.is_alive() for thread in threads), "a client never settled"
    assert log.contention == []
    assert log.undecided == []
    assert log.unexpected == []
    assert findings.problems() == {}
    assert log.acked_debits, "the load acknowledged no debit: nothing was tested"
    assert trial_balance["balanced"] is True
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
