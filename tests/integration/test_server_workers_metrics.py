"""``ledger serve --workers 2``: one scrape counts the requests of both workers, and both log
the same JSON lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live_server import cli_command, free_port, server_env
from tests.support.workers import WAIT_SECONDS, listeners, wait_for

REQUESTS = 40
SCRAPES = 5


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ledger_http_requests_total" and sample.labels["route"] == "/healthz":
                return sample.value
    return 0.0


def _pids(text: str, series: str) -> set[str]:
    return {
        sample.labels["pid"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == series
    }


def test_one_scrape_counts_the_requests_every_worker_served(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4242.db").write_bytes(b"left by an earlier run")
    env = {
        **os.environ,
        **server_env("memory://"),
        "LEDGER_ACCESS_LOG": "true",
        "LEDGER_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            cli_command("serve", "--port", str(port), "--workers", "2"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        wait_for(lambda: listeners(port) == 2, "two listening sockets")
        # Each request on a new connection: the kernel spreads them over both sockets.
        for _ in range(REQUESTS):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        scrapes = [httpx.get(f"http://127.0.0.1:{port}/metrics").text for _ in range(SCRAPES)]
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=WAIT_SECONDS) == 0

    # Then the requests were served by both workers (their JSON access lines say which)
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    served = Counter(
        e["process"]
        for e in entries
        if e["logger"] == "uvicorn.access" and "/healthz" in e["message"]
    )
    assert len(served) == 2
    assert sum(served.values()) == REQUESTS
    # And every scrape, whichever worker answered it, counted all of them
    assert [_healthz_count(text) for text in scrapes] == [REQUESTS] * SCRAPES
    # And shows each worker's process series, told apart by pid
    assert _pids(scrapes[-1], "process_cpu_seconds_total") == {str(pid) for pid in served}
    assert not (metrics_dir / "counter_4242.db").exists()
