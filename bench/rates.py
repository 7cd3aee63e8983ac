"""Open-loop-ish latency: hot-wallet debits at fixed offered rates, and one sequential client.

wrk keeps 32 requests in flight, so its latency follows from its throughput (Little's law).
Here hey offers a fixed rate instead: ``-c`` workers, each sending at most ``-q`` requests a
second (hey's ``-q`` is per worker: the offered rate is ``c x q``). Each worker waits for its
answer before the next request, so a server slower than ``1 / q`` per request is offered
less than asked: ``achieved_per_s`` says what it got (hey does not correct for coordinated
omission either). ``q`` is kept at 10 (a 100 ms budget per request and worker) and ``c``
scales with the rate (40 workers for 400/s), so the rate holds unless answers take longer.
The sequential run is one worker without a limit: the latency of one client sending one
debit after another.

The workers of one hey process start together, so they send together: 40 workers at 10/s
are a burst of 40 requests every 100 ms, not 400 requests a second (runs before 2026-12-06
20:20 UTC measured that: a p50 of ~30 ms on both sides was half a burst's service time). So
the workers are split over ``PROCESSES`` hey processes started ``1 / (q x PROCESSES)`` apart
(10 ms): bursts of ``c / 10`` requests every 10 ms, close to an even 400/s.

hey sends the same headers every time, so these requests carry no ``Idempotency-Key``: the
ledger makes one per debit (and keeps its receipt, as for every debit), the peer too.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.baselines import percentile_ms
from bench.slices import LATENCIES

__all__ = ["PER_WORKER", "RATES", "FixedRate", "run_hey"]

RATES = (200, 400, 800)
PER_WORKER = 10.0
"""hey ``-q``: requests a second per worker."""
PROCESSES = 10
"""hey processes a fixed rate is split over, started evenly across one worker's period."""


@dataclass(frozen=True)
class FixedRate:
    """One hey run: ``rate`` requests/s offered, or None for one sequential client."""

    rate: int | None

    @property
    def name(self) -> str:
        return "sequential_1_client" if self.rate is None else f"fixed_rate_{self.rate}"

    @property
    def workers(self) -> int:
        return 1 if self.rate is None else max(1, round(self.rate / PER_WORKER))


def _hey_command(
    url: str, key: str, path: str, load: FixedRate, *, workers: int, seconds: float
) -> list[str]:
    cmd = ["hey", "-z", f"{seconds:g}s", "-c", str(workers), "-t", "10", "-m", "POST"]
    cmd += ["-T", "application/json", "-H", f"Authorization: Bearer {key}"]
    cmd += ["-d", '{"amount":1}', "-o", "csv"]
    if load.rate is not None:
        cmd += ["-q", f"{load.rate / load.workers:g}"]
    cmd.append(f"{url}{path}")
    return cmd


def _split(load: FixedRate) -> list[int]:
    """Workers per hey process (one process for the sequential client)."""
    if load.rate is None:
        return [1]
    parts = min(PROCESSES, load.workers)
    return [load.workers // parts + (1 if i < load.workers % parts else 0) for i in range(parts)]


def _run_staggered(commands: list[list[str]], period: float, seconds: float) -> list[str]:
    """Start ``commands`` ``period / len(commands)`` apart; their stdout, in order."""
    running = []
    for i, cmd in enumerate(commands):
        if i:
            time.sleep(period / len(commands))
        running.append(
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = []
    for process in running:
        out, err = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise SystemExit(f"bench: hey failed ({process.returncode}):\n{err[-2000:]}")
        outputs.append(out)
    return outputs


def run_hey(url: str, key: str, path: str, load: FixedRate, seconds: float) -> dict[str, Any]:
    """Debit 1 credit on ``path`` for ``seconds``; latency from hey's per-request CSV."""
    commands = [
        _hey_command(url, key, path, load, workers=n, seconds=seconds) for n in _split(load)
    ]
    outputs = _run_staggered(commands, 1 / PER_WORKER, seconds)
    latencies: list[int] = []
    statuses: Counter[str] = Counter()
    for line in (row for out in outputs for row in out.splitlines()[1:]):
        fields = line.split(",")  # response-time,...,status-code,offset
        if len(fields) < 8:
            continue
        latencies.append(round(float(fields[0]) * 1e6))
        statuses[fields[6]] += 1
    latencies.sort()
    ok = sum(n for status, n in statuses.items() if status.startswith("2"))
    return {
        "scenario": load.name,
        "seconds": seconds,
        "offered_per_s": load.rate,
        "hey_workers": load.workers,
        "hey_processes": len(commands),
        "achieved_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "p999_ms": percentile_ms(latencies, 99.9),
        "max_ms": round(latencies[-1] / 1000, 2) if latencies else None,
        "errors": len(latencies) - ok,
        "status_counts": dict(sorted(statuses.items())),
        "ok": ok,
        LATENCIES: latencies,
        # Cut off at the deadline without an answer, at most one per worker: may commit.
        "maybe_committed": load.workers + len(latencies) - ok,
    }
