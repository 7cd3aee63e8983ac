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

import httpx
import pytest

from tests.reliability.fleet import Balancer, api_processes, running, zipfian_wallets
from tests.support.live_server import TEST_ADMIN_KEY, server_env
from tests.support.reliability.checks import compare, read_records, reconcile, wait_projected
from tests.support.reliability.cluster import throwaway_cluster
from tests.support.reliability.common import (
    CLIENTS,
    SECONDS,
    admin_client,
    report,
    seed_wallets,
    service_key,
)
from tests.support.reliability.load import GIVE_UP_SECONDS, ClientLog, Keys, run_clients
from tests.support.reliability.processes import WorkerProcess

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


OUTAGE_GRACE_SECONDS = 6.0
"""After a fault is repaired: a dead owner's leases expire (3 s) and caches refill."""


def _outside(times: list[float], outages: list[tuple[float, float]]) -> list[float]:
    return [t for t in times if not any(a <= t <= b + OUTAGE_GRACE_SECONDS for a, b in outages)]


def test_fleet_on_two_clusters_survives_a_killed_api_and_a_crashed_cluster(
    tmp_path: Path,
) -> None:
    """Shards 0 and 2 on cluster A (the home), 1 and 3 on cluster B; while retrying clients
    run on zipfian wallets (the first is hot), one API process is SIGKILLed and restarted,
    cluster B is stopped with an immediate shutdown and started again, then both at once."""
    overdrafts, picks = _wallets("zipfian")
    logs = tmp_path / "logs"
    with throwaway_cluster() as cluster_a, throwaway_cluster() as cluster_b:
        urls = [cluster_a.url, cluster_b.url] * (SHARDS // 2)
        env = server_env(cluster_a.url)
        env["LEDGER_SHARD_URLS"] = ",".join(urls)
        servers = api_processes(env, logs, 3)
        balancer = Balancer(servers, logs)
        with running(*servers, WorkerProcess(env, logs), balancer):
            with admin_client(balancer.url) as admin:
                seeded = seed_wallets(admin, overdrafts, SEED_CREDITS)
                keys = Keys(service=service_key(admin), admin=TEST_ADMIN_KEY)
            stop = threading.Event()
            threads, clients = run_clients(balancer.url, keys, picks, FLEET_CLIENTS, stop)
            pause = max(2.0, SECONDS / 4)
            outages: list[tuple[float, float]] = []
            time.sleep(pause)
            began = time.monotonic()
            servers[1].restart()
            outages.append((began, time.monotonic()))
            time.sleep(pause)
            began = time.monotonic()
            cluster_b.crash()
            time.sleep(1.5)
            cluster_b.start()
            outages.append((began, time.monotonic()))
            time.sleep(pause)
            began = time.monotonic()
            cluster_b.crash()
            servers[2].kill()
            time.sleep(1.5)
            cluster_b.start()
            servers[2].start()
            outages.append((began, time.monotonic()))
            time.sleep(pause)
            stop.set()
            for thread in threads:
                thread.join(GIVE_UP_SECONDS + 30)
            log = ClientLog()
            for client in clients:
                log.merge(client.log)
            with admin_client(balancer.url) as admin:
                records = read_records(admin, list(overdrafts))
                trial_balance = wait_projected(admin)
            # Readiness names the shards of the cluster that is down (after the load: a
            # store that does not answer takes the connect timeout and its retries).
            cluster_b.crash()
            readiness = httpx.get(f"{servers[0].url}/readyz", timeout=120)
            cluster_b.start()
        reconciled = reconcile(env)

    findings = compare(log, records, seeded)
    outside = _outside(log.contention, outages)
    report(
        "fleet_two_clusters_faults",
        {
            "clients": FLEET_CLIENTS,
            "operations": log.operations,
            "answers": dict(log.statuses),
            "contention": len(log.contention),
            "contention_outside_outages": len(outside),
            # When, in seconds since the first fault: a contention answer comes with its cause.
            "contention_at": [round(t - outages[0][0], 2) for t in log.contention],
            "outages_at": [
                (round(a - outages[0][0], 2), round(b - outages[0][0], 2)) for a, b in outages
            ],
            "acknowledged_debits": len(log.acked_debits),
            "lost": findings.lost,
            "duplicated": len(findings.duplicate_debits),
            "unknown": len(findings.unknown_debits),
            "reconcile_exit": reconciled.returncode,
        },
    )
    assert not any(thread.is_alive() for thread in threads), "a client never settled"
    assert readiness.status_code == 503
    assert "shards 1, 3 do not answer" in readiness.json()["detail"]  # cluster B's
    assert outside == []
    assert log.undecided == []
    assert log.unexpected == []
    assert findings.problems() == {}
    assert log.acked_debits, "the load acknowledged no debit: nothing was tested"
    assert trial_balance["balanced"] is True
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
