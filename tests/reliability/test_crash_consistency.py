"""Crash consistency: nothing acknowledged is lost or doubled when processes die under load.

Real processes on a PostgreSQL cluster of the test's own: ``ledger serve`` (group commit, the
production default) and ``ledger project``. Client threads keep debiting, holding, capturing,
releasing, sending batches of these (``POST /v1/batch``) and topping up, retrying every
undecided request with the same idempotency keys.
Meanwhile, in turn: the server is SIGKILLed and restarted, the projection worker is SIGKILLed
and restarted, PostgreSQL is stopped with ``-m immediate`` (a crash: no checkpoint, WAL
replay on start) and started again, and both the server and PostgreSQL die at once.

Afterwards, with every operation settled:

* every debit a client saw acknowledged is in its wallet's events exactly once, with its
  amount; no debit exists that a client was not told about (so none that no client asked
  for); holds, captures, releases and top-up grants match the acknowledgements too;
* no wallet owes more than its overdraft limit;
* the trial balance of the read models is balanced, and ``ledger reconcile`` finds the read
  models equal to the log, after the worker was killed mid-batch;
* neither API key appears in any process's log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.live_server import TEST_ADMIN_KEY, server_env
from tests.support.reliability.checks import compare, read_records, reconcile, wait_projected
from tests.support.reliability.cluster import Cluster, throwaway_cluster
from tests.support.reliability.common import (
    CLIENTS,
    SECONDS,
    admin_client,
    report,
    seed_wallets,
    service_key,
)
from tests.support.reliability.load import GIVE_UP_SECONDS, ClientLog, Keys, run_clients
from tests.support.reliability.processes import ServerProcess, WorkerProcess

pytestmark = pytest.mark.reliability

OVERDRAFTS = {"w-0": 0, "w-1": 0, "w-2": 50, "w-3": 200}
SEED_CREDITS = 1_000
FAULT_EVERY_SECONDS = 6.0
POSTGRES_DOWN_SECONDS = 1.5


def crash_postgres(cluster: Cluster) -> None:
    cluster.crash()
    time.sleep(POSTGRES_DOWN_SECONDS)  # clients and both processes see it gone meanwhile
    cluster.start()


def crash_both(cluster: Cluster, server: ServerProcess) -> None:
    """PostgreSQL and the server die together; the server must start on a recovering store."""
    cluster.crash()
    server.kill()
    time.sleep(POSTGRES_DOWN_SECONDS)
    cluster.start()
    server.start()


def inject_faults(
    seconds: float, server: ServerProcess, worker: WorkerProcess, cluster: Cluster
) -> list[str]:
    """Kill something every few seconds, in turn, for ``seconds``; the faults injected."""
    faults: list[tuple[str, Callable[[], None]]] = [
        ("sigkill_server", server.restart),
        ("sigkill_projection_worker", worker.restart),
        ("postgres_immediate_stop", lambda: crash_postgres(cluster)),
        ("sigkill_server_and_postgres_immediate_stop", lambda: crash_both(cluster, server)),
    ]
    injected: list[str] = []
    deadline = time.monotonic() + seconds
    # At least one of each kind, however short the run.
    while time.monotonic() < deadline or len(injected) < len(faults):
        time.sleep(min(FAULT_EVERY_SECONDS, seconds / (len(faults) + 1)))
        name, fault = faults[len(injected) % len(faults)]
        fault()
        injected.append(name)
    return injected


@pytest.mark.parametrize("shards", [1, 3])
def test_acknowledged_writes_survive_crashes_exactly_once(tmp_path: Path, shards: int) -> None:
    """With 3 shards the four wallets land in shards 0, 2, 1 and 0 (``ledger.app.shards``)."""
    with throwaway_cluster() as cluster:
        env = server_env(cluster.url)
        if shards > 1:
            env["LEDGER_SHARDS"] = str(shards)
        server, worker = (
            ServerProcess(env, tmp_path / "logs"),
            WorkerProcess(env, tmp_path / "logs"),
        )
        server.start()
        worker.start()
        try:
            with admin_client(server.url) as admin:
                seeded = seed_wallets(admin, OVERDRAFTS, SEED_CREDITS)
                keys = Keys(service=service_key(admin), admin=TEST_ADMIN_KEY)

            stop = threading.Event()
            started = time.monotonic()
            threads, clients = run_clients(server.url, keys, list(OVERDRAFTS), CLIENTS, stop)
            faults = inject_faults(SECONDS, server, worker, cluster)
            stop.set()
            for thread in threads:
                thread.join(GIVE_UP_SECONDS + 30)
            load_seconds = time.monotonic() - started
            log = ClientLog()
            for client in clients:
                log.merge(client.log)

            with admin_client(server.url) as admin:
                records = read_records(admin, list(OVERDRAFTS))
                trial_balance = wait_projected(admin)
        finally:
            server.stop()
            worker.stop()
        reconciled = reconcile(env)

    findings = compare(log, records, seeded)
    logged = "".join(path.read_text(errors="replace") for path in (tmp_path / "logs").iterdir())
    report(
        "crash_consistency" if shards == 1 else f"crash_consistency_{shards}_shards",
        {
            "seconds": round(load_seconds, 1),
            "clients": CLIENTS,
            "operations": log.operations,
            "requests": log.requests,
            "acknowledged_debits": len(log.acked_debits),
            "acknowledged_captures": len(log.acked_captures),
            "batches_answered": log.statuses["batch:200"],
            "faults": {name: faults.count(name) for name in sorted(set(faults))},
            "answers": dict(log.statuses),
            "lost": findings.lost,
            "duplicated": len(findings.duplicate_debits),
            "unknown": len(findings.unknown_debits),
            "undecided": len(log.undecided),
            "reconcile_exit": reconciled.returncode,
        },
    )
    assert not any(thread.is_alive() for thread in threads), "a client never settled"
    assert log.undecided == []
    assert log.unexpected == []
    assert findings.problems() == {}
    assert log.acked_debits, "the load acknowledged no debit: nothing was tested"
    assert log.statuses["batch:200"], "no batch was answered: batches were not tested"
    assert trial_balance["balanced"] is True
    assert trial_balance["debit_total"] == trial_balance["credit_total"]
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert TEST_ADMIN_KEY not in logged
    assert keys.service not in logged
