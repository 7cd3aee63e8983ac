"""The Python client's micro-batching against per-request calls, from one client process.

    scripts/client_bench.sh [--seconds 10] [--threads 32] [--tasks 16,64] [--wallets 100]
    python -m bench.client_batching --database-url URL ...   # a store of your own
    python -m bench.client_batching --url URL --key ADMIN_KEY ...   # a running server

One client process runs debits of 1 credit for ``--seconds`` per mode, on threads sharing
one :class:`credit_ledger.Ledger` and on asyncio tasks sharing one
:class:`credit_ledger.AsyncLedger`: each first per request (``POST .../debits``), then
micro-batched (``batch_window``: concurrent calls travel as one ``POST /v1/batch``). Every
mode gets a warm-up that is left out and starts once the read models have caught up with
the mode before. With ``--database-url`` it starts ``ledger serve`` and ``ledger project``
on that store as the write-path benchmark does (:func:`bench.server.running_server`: one
process, group commit, the per-key rate limit out of reach) and stops them at the end.

Prints one JSON line per mode (debits/s, latency percentiles, HTTP requests and operations
per request, errors) and a final check: the credits the wallets lost equal the debits the
client was answered, so nothing was decided twice or lost. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from credit_ledger import AsyncLedger, Ledger, LedgerError

from bench.common import GRANT, emit
from bench.config import Config
from bench.pgstats import create_projector_role
from bench.server import running_server

__all__ = ["main"]


class Counted(httpx.HTTPTransport):
    """The network, counting requests per path and answers that ask for a retry."""

    def __init__(self) -> None:
        super().__init__(limits=httpx.Limits(max_connections=256))
        self.counts: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.counts[request.url.path.rsplit("/", 1)[-1]] += 1
        if response.status_code in {429, 503}:
            self.counts[str(response.status_code)] += 1
        return response


class AsyncCounted(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__(limits=httpx.Limits(max_connections=256))
        self.counts: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.counts[request.url.path.rsplit("/", 1)[-1]] += 1
        if response.status_code in {429, 503}:
            self.counts[str(response.status_code)] += 1
        return response


@dataclass
class Tally:
    """What one mode's timed run answered."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, started: float, error: str | None) -> None:
        elapsed = time.perf_counter() - started
        with self.lock:
            if error is None:
                self.latencies.append(elapsed)
            else:
                self.errors[error] += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(
    mode: str, driver: str, seconds: float, tally: Tally, counts: Counter[str]
) -> dict[str, Any]:
    requests = counts["batch"] + counts["debits"]
    done = len(tally.latencies)
    return {
        "mode": mode,
        "driver": driver,
        "seconds": round(seconds, 2),
        "debits": done,
        "debits_per_s": round(done / seconds, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 2),
        "http_requests": requests,
        "batch_requests": counts["batch"],
        "debits_per_request": round(done / requests, 2) if requests else 0.0,
        "answers_503": counts["503"],
        "answers_429": counts["429"],
        "errors": dict(tally.errors),
    }


def wallet_of(worker: int, step: int, wallets: int) -> str:
    return f"cb-{(worker * 7919 + step) % wallets}"


def run_threads(
    args: argparse.Namespace, key: str, workers: int, batched: bool, seconds: float
) -> dict[str, Any]:
    network = Counted()
    window = args.window if batched else None
    tally = Tally()
    with Ledger(
        args.url,
        key,
        timeout=30.0,
        batch_window=window,
        batch_max_size=args.batch_max,
        transport=network,
    ) as ledger:
        stop = time.monotonic() + seconds

        def work(worker: int) -> None:
            step = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    ledger.debit(wallet_of(worker, step, args.wallets), 1)
                    tally.add(started, None)
                except LedgerError as error:
                    tally.add(started, error.problem_code)
                step += 1

        began = time.monotonic()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - began
    return report(
        "batched" if batched else "per_request",
        f"threads={workers}",
        took,
        tally,
        network.counts,
    )


def run_tasks(
    args: argparse.Namespace, key: str, workers: int, batched: bool, seconds: float
) -> dict[str, Any]:
    network = AsyncCounted()
    window = args.window if batched else None
    tally = Tally()

    async def run() -> float:
        async with AsyncLedger(
            args.url,
            key,
            timeout=30.0,
            batch_window=window,
            batch_max_size=args.batch_max,
            transport=network,
        ) as ledger:
            stop = time.monotonic() + seconds

            async def work(worker: int) -> None:
                step = 0
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    try:
                        await ledger.debit(wallet_of(worker, step, args.wallets), 1)
                        tally.add(started, None)
                    except LedgerError as error:
                        tally.add(started, error.problem_code)
                    step += 1

            began = time.monotonic()
            await asyncio.gather(*(work(n) for n in range(workers)))
            return time.monotonic() - began

    took = asyncio.run(run())
    return report(
        "batched" if batched else "per_request",
        f"asyncio tasks={workers}",
        took,
        tally,
        network.counts,
    )


def seed(args: argparse.Namespace) -> str:
    """Open and fund the wallets; a ``service`` key for the load (a stored key, as a product
    backend would use)."""
    with Ledger(args.url, args.key, timeout=60.0) as admin:
        for n in range(args.wallets):
            admin.open_wallet(f"cb-{n}")
            admin.grant(f"cb-{n}", GRANT, "paid")
        return admin.create_api_key(["service"], name="client bench").key


def settle(args: argparse.Namespace) -> None:
    """Wait until the read models have caught up with the previous mode's debits (at most
    60 s), so that one mode's projection work does not load the next mode's run."""
    deadline = time.monotonic() + 60
    with Ledger(args.url, args.key, timeout=60.0) as admin:
        while time.monotonic() < deadline:
            if all(p.lag == 0 for p in admin.list_projections()):
                return
            time.sleep(0.5)


def spent(args: argparse.Namespace) -> int:
    with Ledger(args.url, args.key, timeout=60.0) as admin:
        return sum(
            GRANT - admin.get_wallet(f"cb-{n}").balance.available for n in range(args.wallets)
        )


@contextmanager
def served(args: argparse.Namespace) -> Iterator[None]:
    """``ledger serve`` (one process, the benchmark's setup: group commit, the per-key rate
    limit out of reach) and ``ledger project`` beside it, on ``--database-url``."""
    args.logs.mkdir(parents=True, exist_ok=True)
    admin_key = secrets.token_urlsafe(32)
    if args.projections:
        create_projector_role(args.database_url)
    config = Config(index=0, project=args.projections)
    with running_server(args.database_url, config, args.logs, admin_key) as server:
        args.url, args.key = server.url, admin_key
        yield


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help="start ledger serve (and ledger project) on this store"
    )
    parser.add_argument("--url", help="a running server instead")
    parser.add_argument("--key", help="its admin key")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed run per mode")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed run before each mode")
    parser.add_argument("--threads", default="32", help="threads per run, e.g. 8,32")
    parser.add_argument("--tasks", default="16,64", help="asyncio tasks per run, e.g. 16,64")
    parser.add_argument("--wallets", type=int, default=100)
    parser.add_argument("--window", type=float, default=0.002, help="batch_window, seconds")
    parser.add_argument("--batch-max", type=int, default=100, help="batch_max_size")
    parser.add_argument("--drivers", default="threads,asyncio")
    parser.add_argument("--no-projections", dest="projections", action="store_false")
    parser.add_argument("--logs", type=Path, default=Path("var/client-bench"))
    args = parser.parse_args(argv)
    if not args.database_url and not (args.url and args.key):
        parser.error("give --database-url, or --url and --key")
    return args


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    with ExitStack() as stack:
        if args.database_url:
            stack.enter_context(served(args))
        key = seed(args)
        answered = 0
        runners = {"threads": (run_threads, args.threads), "asyncio": (run_tasks, args.tasks)}
        for driver in args.drivers.split(","):
            run, counts = runners[driver]
            for workers in (int(n) for n in counts.split(",")):
                for batched in (False, True):
                    settle(args)
                    warm = run(args, key, workers, batched, args.warmup)
                    line = run(args, key, workers, batched, args.seconds)
                    answered += warm["debits"] + line["debits"]
                    emit(line)
        lost = spent(args)
        check = {
            "check": "every answered debit recorded once",
            "answered": answered,
            "spent": lost,
            "ok": lost == answered,
        }
        emit(check)
        return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
