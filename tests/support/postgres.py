"""Helpers for the store-backed integration tests.

* :func:`schema_url` — the store URL of a test schema (``?schema=`` plus pool options);
* :func:`real_clock_ledger` / :func:`open_ledgers` — CreditLedger instances, each with its own
  connection pool like separate processes, always closed;
* :func:`scan_events` — every event of a wallet through the public ``wallet_events`` pages;
* :func:`debit_counts`, :func:`account_balances` — what the log says was debited and posted;
* :func:`process_debit_worker` — the body of one spawned process in the multi-process test
  (it lives here, not in a test module, so spawned children import only this module).
"""

from __future__ import annotations

import random
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from psycopg import pq

from ledger.app.application import utc_now
from ledger.app.commands import Debit
from ledger.app.service import CreditLedger
from ledger.domain.errors import LedgerError
from ledger.store.env import store_env
from tests.support.builders import group_commit_in_tests

__all__ = [
    "DebitTally",
    "account_balances",
    "debit_counts",
    "debit_until_exhausted",
    "open_ledgers",
    "process_debit_worker",
    "real_clock_ledger",
    "scan_events",
    "schema_url",
    "traced",
]


@contextmanager
def traced(datastore: Any, path: Path) -> Iterator[list[str]]:
    """The libpq protocol messages of every connection ``datastore`` hands out meanwhile
    (``F`` sent, ``B`` received), collected into the list when each goes back."""
    lines: list[str] = []
    taking = datastore.get_connection

    @contextmanager
    def get_connection() -> Iterator[Any]:
        with taking() as conn, path.open("w") as out:
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield conn
            finally:
                conn.pgconn.untrace()
        lines.extend(path.read_text().splitlines())

    datastore.get_connection = get_connection
    try:
        yield lines
    finally:
        datastore.get_connection = taking


def schema_url(postgres_url: str, schema: str, **options: str | int) -> str:
    """The store URL of ``schema`` in the test database, with extra URL options."""
    query = urlencode({"schema": schema, **{k: str(v) for k, v in options.items()}})
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}{query}"


def real_clock_ledger(url: str, env: Mapping[str, str] | None = None) -> CreditLedger:
    """A CreditLedger on ``url`` that reads the real clock (concurrency tests).

    Group commit follows ``LEDGER_TEST_GROUP_COMMIT``, so the suite can prove both paths.
    """
    return CreditLedger(
        {**store_env(url), **(env or {})}, clock=utc_now, group_commit=group_commit_in_tests()
    )


@contextmanager
def open_ledgers(url: str, count: int) -> Iterator[list[CreditLedger]]:
    """``count`` independent real-clock ledgers on one store, each with its own pool."""
    ledgers: list[CreditLedger] = []
    try:
        for _ in range(count):
            ledgers.append(real_clock_ledger(url))
        yield ledgers
    finally:
        for ledger in ledgers:
            ledger.close()


def scan_events(ledger: CreditLedger, wallet_id: str, page: int = 100) -> list[dict[str, Any]]:
    """All events of ``wallet_id``, read page by page through ``wallet_events``."""
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        chunk = ledger.wallet_events(wallet_id, after_version=after, limit=page)
        rows.extend(chunk["events"])
        if len(chunk["events"]) < page:
            return rows
        after = chunk["next_after_version"]


def debit_counts(events: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, int]]:
    """How often each ``debit_id`` occurs in CreditsDebited events, and its amount."""
    counts: Counter[str] = Counter()
    amounts: dict[str, int] = {}
    for event in events:
        if event["type"] == "CreditsDebited":
            counts[event["data"]["debit_id"]] += 1
            amounts[event["data"]["debit_id"]] = event["data"]["amount"]
    return counts, amounts


def account_balances(events: list[dict[str, Any]]) -> dict[str, int]:
    """Net of every account over the events' postings: credits minus debits."""
    net: Counter[str] = Counter()
    for event in events:
        for posting in event["data"]["postings"]:
            net[posting["credit"]] += posting["amount"]
            net[posting["debit"]] -= posting["amount"]
    return dict(net)


class DebitTally:
    """What the callers of concurrent debits were told, collected across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acknowledged: dict[str, tuple[str, int]] = {}  # debit_id -> (wallet_id, amount)
        self.refused: list[tuple[str, str, str]] = []  # (wallet_id, key, error code)

    def ack(self, debit_id: str, wallet_id: str, amount: int) -> None:
        with self._lock:
            if debit_id in self.acknowledged:
                raise AssertionError(f"debit {debit_id} acknowledged twice")
            self.acknowledged[debit_id] = (wallet_id, amount)

    def refuse(self, wallet_id: str, key: str, code: str) -> None:
        with self._lock:
            self.refused.append((wallet_id, key, code))

    def codes(self) -> Counter[str]:
        return Counter(code for _, _, code in self.refused)

    def as_dict(self) -> dict[str, Any]:
        return {"acknowledged": dict(self.acknowledged), "refused": list(self.refused)}


class _Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...

    def abort(self) -> None: ...


class _Lock(Protocol):
    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> object: ...


def debit_until_exhausted(
    ledger: CreditLedger,
    wallet_ids: list[str],
    tally: DebitTally,
    *,
    rng: random.Random,
    max_amount: int,
    refusals_to_stop: int,
    deadline: float,
) -> None:
    """Debit random amounts with fresh keys until every wallet refused a few times."""
    misses = dict.fromkeys(wallet_ids, 0)
    while time.monotonic() < deadline:
        live = [w for w, n in misses.items() if n < refusals_to_stop]
        if not live:
            return
        wallet_id = rng.choice(live)
        key = f"k-{uuid.uuid4().hex}"
        amount = rng.randint(1, max_amount)
        try:
            outcome = ledger.debit(Debit(wallet_id=wallet_id, amount=amount, idempotency_key=key))
        except LedgerError as error:
            tally.refuse(wallet_id, key, error.code)
            if error.code == "insufficient_credits":
                misses[wallet_id] += 1
            elif error.code != "contention":
                raise
            continue
        if outcome.replayed or outcome.body["amount"] != amount:
            raise AssertionError(f"fresh key {key} answered {outcome!r}")
        tally.ack(outcome.body["debit_id"], wallet_id, amount)


def process_debit_worker(
    url: str,
    wallet_ids: list[str],
    *,
    seed: int,
    threads: int,
    barrier: _Barrier,
    startup: _Lock,
    results: Any,
    seconds: float,
) -> None:
    """One spawned process: a CreditLedger and ``threads`` debiting threads; reports a dict.

    Construction is serialised by ``startup``: CreditLedger instances constructed at the same
    moment on one schema can fail with "tuple concurrently updated" (eventsourcing runs
    ``CREATE OR REPLACE FUNCTION`` at every start); see test_postgres_behaviour.
    """
    report: dict[str, Any]
    try:
        try:
            with startup:
                ledger = real_clock_ledger(url)
        except BaseException:
            barrier.abort()
            raise
        try:
            tally = DebitTally()
            errors: list[str] = []
            try:
                ledger.wallet(wallet_ids[0])  # warm the pool before the start line
            except BaseException:
                barrier.abort()
                raise
            barrier.wait(timeout=60)
            deadline = time.monotonic() + seconds
            started = time.monotonic()

            def run(thread_seed: int) -> None:
                try:
                    debit_until_exhausted(
                        ledger,
                        wallet_ids,
                        tally,
                        rng=random.Random(thread_seed),
                        max_amount=5,
                        refusals_to_stop=3,
                        deadline=deadline,
                    )
                except BaseException:
                    errors.append(traceback.format_exc())

            workers = [threading.Thread(target=run, args=(seed * 100 + i,)) for i in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            report = {
                **tally.as_dict(),
                "errors": errors,
                "elapsed": time.monotonic() - started,
                "deadline_hit": time.monotonic() >= deadline,
            }
        finally:
            ledger.close()
    except BaseException:
        report = {"acknowledged": {}, "refused": [], "errors": [traceback.format_exc()]}
    results.put(report)
