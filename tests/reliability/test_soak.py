"""Soak: a mixed workload for a bounded time; the API process's memory must level off.

A real ``ledger serve`` on PostgreSQL (a schema of the shared test database) takes debits,
holds with captures and releases and balance reads from client threads over many funded
wallets (no top-up grants: each would stay in its wallet's state for good), so every cache
sees far more keys, receipts and holds than it could keep for ever. The server's resident set
size (``VmRSS``) is sampled at regular intervals, with the requests answered and their latency
in each interval.

The assertion is about behaviour, not speed: after warm-up (the first third), the mean RSS of
the last third may exceed that of the second third by at most :data:`RSS_GROWTH_ALLOWED`.
Unbounded growth (a cache or map keyed by request) fails it when the run is long enough to
show; latency is reported, never asserted (the machine is shared), and its drift over the long
run is in ``docs/reliability.md``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import TEST_ADMIN_KEY, pg_store_url, server_env
from tests.support.reliability.common import (
    CLIENTS,
    SECONDS,
    admin_client,
    report,
    seed_wallets,
    service_key,
)
from tests.support.reliability.load import GIVE_UP_SECONDS, ClientLog, Keys, run_clients
from tests.support.reliability.processes import ServerProcess, rss_kib

pytestmark = pytest.mark.reliability

WALLETS = {f"soak-{n}": 100 * (n % 3) for n in range(40)}
SEED_CREDITS = 50_000
SAMPLES = 12
RSS_GROWTH_ALLOWED = 0.25


@pytest.fixture
def server(postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(server_env(pg_store_url(postgres_url, pg_schema)), tmp_path / "logs")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def percentile_ms(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


def test_memory_levels_off_under_a_mixed_workload(server: ServerProcess) -> None:
    with admin_client(server.url) as admin:
        seed_wallets(admin, WALLETS, SEED_CREDITS)
        keys = Keys(service=service_key(admin), admin=TEST_ADMIN_KEY)

    stop = threading.Event()
    threads, clients = run_clients(server.url, keys, list(WALLETS), CLIENTS, stop, top_ups=False)
    interval = SECONDS / SAMPLES
    samples: list[tuple[float, int]] = []  # (monotonic time, RSS KiB) at each interval's end
    started = time.monotonic()
    for _ in range(SAMPLES):
        time.sleep(interval)
        samples.append((time.monotonic(), rss_kib(server.pid)))
    stop.set()
    for thread in threads:
        thread.join(GIVE_UP_SECONDS + 30)
    log = ClientLog()
    for client in clients:
        log.merge(client.log)

    rows, previous = [], started
    for at, rss in samples:
        taken = [seconds for answered, seconds in log.latencies if previous < answered <= at]
        rows.append(
            {
                "t_s": round(at - started),
                "rss_mib": round(rss / 1024, 1),
                "requests": len(taken),
                "p50_ms": percentile_ms(taken, 0.5),
                "p99_ms": percentile_ms(taken, 0.99),
            }
        )
        previous = at
    third = SAMPLES // 3
    middle = statistics.mean(rss for _, rss in samples[third : 2 * third])
    last = statistics.mean(rss for _, rss in samples[2 * third :])
    report(
        "soak",
        {
            "seconds": round(time.monotonic() - started, 1),
            "clients": CLIENTS,
            "wallets": len(WALLETS),
            "operations": log.operations,
            "requests": log.requests,
            "answers": dict(log.statuses),
            "rss_growth_last_vs_middle_third": round(last / middle - 1, 3),
            "intervals": rows,
        },
    )
    assert not any(thread.is_alive() for thread in threads), "a client never settled"
    assert log.undecided == []
    assert log.unexpected == []
    assert log.operations > 0
    assert last <= middle * (1 + RSS_GROWTH_ALLOWED), rows
