"""Acceptance tests of the write path under real concurrency on Postgres.

Several CreditLedger instances (each with its own connection pool, like separate processes)
and several threads per instance (the striped in-process lock) write to the same wallets, so
both cross-instance OCC conflicts and in-process queuing really happen. Whatever the
interleaving: no overdraft, every acknowledged debit is in the log exactly once, nothing
is in the log that no caller was told about, refused or contended commands record nothing,
and the postings still balance.

The numbers (debits/s, conflicts, contention errors) are logged and recorded as test
properties; run with ``-o log_cli=true --log-cli-level=INFO`` to see them.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.app.commands import CaptureHold, Debit, GrantCredits, OpenWallet, PlaceHold, ReleaseHold
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger
from ledger.app.shards import shard_of
from ledger.domain.errors import LedgerError
from ledger.domain.ids import receipt_id
from tests.support.postgres import (
    DebitTally,
    account_balances,
    debit_counts,
    debit_until_exhausted,
    open_ledgers,
    process_debit_worker,
    real_clock_ledger,
    scan_events,
    schema_url,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTANCES = 4
THREADS_PER_INSTANCE = 8
START_TIMEOUT = 30.0


def _store(postgres_url: str, pg_schema: str) -> str:
    # Small pools: threads of one instance queue on its striped lock, not on connections.
    return schema_url(postgres_url, pg_schema, pool_size=2, max_overflow=6)


class ConflictCounter:
    """Counts the IntegrityErrors (OCC conflicts) each instance's saves run into."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.conflicts = 0

    def install(self, ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch) -> None:
        real_save = ledger.save

        def counting_save(*objs: Any, **kwargs: Any) -> Any:
            try:
                return real_save(*objs, **kwargs)
            except IntegrityError:
                with self._lock:
                    self.conflicts += 1
                raise

        monkeypatch.setattr(ledger, "save", counting_save)


def _run_together(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released at once; re-raise any unexpected error."""
    barrier = threading.Barrier(len(calls))

    def start(call: Callable[[], T]) -> T:
        barrier.wait(timeout=START_TIMEOUT)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(start, call) for call in calls]
        return [future.result(timeout=120) for future in futures]


def _outcome_or_error(call: Callable[[], Outcome]) -> Callable[[], Outcome | LedgerError]:
    def run() -> Outcome | LedgerError:
        try:
            return call()
        except LedgerError as error:
            return error

    return run


def _fund(ledger: CreditLedger, wallet_id: str, amount: int) -> None:
    ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
    ledger.grant(GrantCredits(wallet_id=wallet_id, amount=amount, category="paid", grant_id="g1"))


def _assert_nothing_recorded_for(
    ledger: CreditLedger, wallet_id: str, keys: list[str], logged: Counter[str]
) -> None:
    """A refused or contended debit left neither a debit event nor a receipt."""
    for key in keys:
        debit_id = receipt_id(wallet_id, key)
        assert str(debit_id) not in logged, f"refused key {key} has a debit in the log"
        assert ledger.find(debit_id) is None, f"refused key {key} left a receipt"


def _assert_log_matches_acknowledgements(
    ledger: CreditLedger, wallet_id: str, granted: int, tally: DebitTally
) -> dict[str, Any]:
    """The invariants of a wallet that only received debits after its one grant."""
    events = scan_events(ledger, wallet_id)
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    logged, logged_amounts = debit_counts(events)
    acked = {d: amount for d, (w, amount) in tally.acknowledged.items() if w == wallet_id}
    doubled = {d: n for d, n in logged.items() if n != 1}
    assert not doubled, f"debits recorded more than once: {doubled}"
    assert set(acked) - set(logged) == set(), "acknowledged debits missing from the log"
    assert set(logged) - set(acked) == set(), "debits in the log that nobody was told about"
    assert logged_amounts == acked

    view = ledger.wallet(wallet_id)
    available = view["balance"]["available"]
    consumed = sum(acked.values())
    assert available >= 0, f"overdraft: {view['balance']}"
    assert view["balance"] == {"available": available, "held": 0, "debt": 0}
    assert consumed == granted - available
    assert view["version"] == len(events)

    net = account_balances(events)
    assert sum(net.values()) == 0, "trial balance is not zero"
    assert net["platform:credits:issued:paid"] == -granted
    assert net[f"wallet:{wallet_id}:grant:g1"] == available
    assert net["platform:credits:consumed"] == consumed
    refused_keys = [key for w, key, _ in tally.refused if w == wallet_id]
    _assert_nothing_recorded_for(ledger, wallet_id, refused_keys, logged)
    return {"available": available, "consumed": consumed, "debits": len(acked)}


@pytest.mark.timeout(120)
def test_hot_wallet_concurrent_debits_never_overdraw_lose_or_double(
    postgres_url: str,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    granted = 1000
    url = _store(postgres_url, pg_schema)
    tally = DebitTally()
    counter = ConflictCounter()
    with open_ledgers(url, INSTANCES) as ledgers:
        _fund(ledgers[0], "hot", granted)
        for ledger in ledgers:
            ledger.wallet("hot")  # open the pool and cache the wallet before the start line
            counter.install(ledger, monkeypatch)
        deadline = time.monotonic() + 60
        calls = [
            partial(
                debit_until_exhausted,
                ledgers[n % INSTANCES],
                ["hot"],
                tally,
                rng=random.Random(n),
                max_amount=7,
                refusals_to_stop=3,
                deadline=deadline,
            )
            for n in range(INSTANCES * THREADS_PER_INSTANCE)
        ]
        started = time.monotonic()
        _run_together(calls)
        elapsed = time.monotonic() - started
        assert time.monotonic() < deadline, "the debit loops ran into their time limit"

        views = [ledger.wallet("hot")["balance"] for ledger in ledgers]
        assert all(view == views[0] for view in views), views

    with open_ledgers(url, 1) as (fresh,):  # no cache: a full replay of the stored events
        summary = _assert_log_matches_acknowledgements(fresh, "hot", granted, tally)
        assert fresh.wallet("hot")["balance"] == views[0]

    codes = tally.codes()
    assert set(codes) <= {"insufficient_credits", "contention"}, codes
    assert counter.conflicts > 0, "no cross-instance OCC conflict happened; the test is moot"
    numbers = {
        **summary,
        "seconds": round(elapsed, 2),
        "debits_per_second": round(summary["debits"] / elapsed, 1),
        "occ_conflicts": counter.conflicts,
        "contention_errors": codes["contention"],
        "insufficient_credits": codes["insufficient_credits"],
    }
    for name, value in numbers.items():
        record_property(name, value)
    log.info("hot wallet, %d instances x %d threads: %s", INSTANCES, THREADS_PER_INSTANCE, numbers)


@pytest.mark.timeout(120)
def test_same_idempotency_key_sent_concurrently_records_one_debit(
    postgres_url: str, pg_schema: str, record_property: Callable[[str, object], None]
) -> None:
    rounds, callers, amount = 4, 16, 9
    url = _store(postgres_url, pg_schema)
    with open_ledgers(url, INSTANCES) as ledgers:
        _fund(ledgers[0], "w", 1000)
        for ledger in ledgers:
            ledger.wallet("w")
        for round_ in range(rounds):
            key = f"same-key-{round_}"
            command = Debit(wallet_id="w", amount=amount, idempotency_key=key, subject={})
            outcomes: list[Outcome] = _run_together(
                [partial(ledgers[n % INSTANCES].debit, command) for n in range(callers)]
            )
            fresh = [o for o in outcomes if not o.replayed]
            assert len(fresh) == 1, f"{len(fresh)} callers recorded key {key}"
            bodies = [o.body for o in outcomes]
            assert all(body == bodies[0] for body in bodies)
            assert bodies[0]["debit_id"] == str(receipt_id("w", key))
            assert bodies[0]["amount"] == amount

            # The same key with another amount, from every instance at once: a conflict.
            version = ledgers[0].wallet("w")["version"]
            other = Debit(wallet_id="w", amount=amount + 1, idempotency_key=key)
            errors = _run_together(
                [_outcome_or_error(partial(ledger.debit, other)) for ledger in ledgers]
            )
            assert [getattr(e, "code", e) for e in errors] == ["idempotency_conflict"] * len(
                ledgers
            )
            assert ledgers[0].wallet("w")["version"] == version

    with open_ledgers(url, 1) as (check,):
        events = scan_events(check, "w")
        logged, amounts = debit_counts(events)
        assert dict(logged) == {str(receipt_id("w", f"same-key-{r}")): 1 for r in range(rounds)}
        assert set(amounts.values()) == {amount}
        assert check.wallet("w")["balance"]["available"] == 1000 - rounds * amount
        assert sum(account_balances(events).values()) == 0
    record_property("same_key_rounds", rounds)


@pytest.mark.timeout(120)
def test_concurrent_capture_and_release_of_one_hold_resolve_it_once(
    postgres_url: str, pg_schema: str, record_property: Callable[[str, object], None]
) -> None:
    rounds, held, captured = 6, 40, 25
    url = _store(postgres_url, pg_schema)
    winners: Counter[str] = Counter()
    with open_ledgers(url, INSTANCES) as ledgers:
        _fund(ledgers[0], "h", 1000)
        for ledger in ledgers:
            ledger.wallet("h")
        for round_ in range(rounds):
            hold_id = f"hold-{round_}"
            ledgers[0].place_hold(PlaceHold(wallet_id="h", amount=held, hold_id=hold_id))
            calls: list[Callable[[], Outcome | LedgerError]] = []
            for n in range(2 * INSTANCES):
                ledger = ledgers[n % INSTANCES]
                key = f"{hold_id}-caller-{n}"
                if n % 2:
                    capture = CaptureHold(
                        wallet_id="h", hold_id=hold_id, amount=captured, idempotency_key=key
                    )
                    calls.append(_outcome_or_error(partial(ledger.capture_hold, capture)))
                else:
                    release = ReleaseHold(wallet_id="h", hold_id=hold_id, idempotency_key=key)
                    calls.append(_outcome_or_error(partial(ledger.release_hold, release)))
            results = _run_together(calls)

            wins = [r for r in results if isinstance(r, Outcome)]
            losses = [r for r in results if isinstance(r, LedgerError)]
            assert len(wins) == 1, f"hold {hold_id} resolved {len(wins)} times"
            status = wins[0].body["status"]
            winners[status] += 1
            assert {(e.code, e.details()["status"]) for e in losses} == {("hold_not_open", status)}
            for ledger in ledgers:
                assert ledger.hold("h", hold_id)["status"] == status

    with open_ledgers(url, 1) as (check,):
        events = scan_events(check, "h")
        types = Counter(e["type"] for e in events)
        assert types["HoldCaptured"] + types["HoldReleased"] == rounds
        assert types["HoldCaptured"] == winners["captured"]
        consumed = captured * winners["captured"]
        balance = check.wallet("h")["balance"]
        assert balance == {"available": 1000 - consumed, "held": 0, "debt": 0}
        net = account_balances(events)
        assert sum(net.values()) == 0
        assert net.get("wallet:h:holds", 0) == 0
        assert net.get("platform:credits:consumed", 0) == consumed
        assert net["wallet:h:grant:g1"] == 1000 - consumed
        for round_ in range(rounds):
            record = check.hold("h", f"hold-{round_}")
            assert record["status"] in {"captured", "released"}
            assert record["released"] == (
                held - captured if record["status"] == "captured" else held
            )
    record_property("captures_won", winners["captured"])
    record_property("releases_won", winners["released"])


def _one_wallet_per_shard(shards: int) -> list[str]:
    found: dict[int, str] = {}
    n = 0
    while len(found) < shards:
        found.setdefault(shard_of(f"p{n}", shards), f"p{n}")
        n += 1
    return [found[k] for k in range(shards)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shards", [1, 3])
def test_debits_from_separate_processes_stay_exact(
    postgres_url: str, pg_schema: str, record_property: Callable[[str, object], None], shards: int
) -> None:
    """Four processes, each with its own ledger (and, sharded, its own committer per shard):
    the spawned workers learn the shard count from the store's shard map."""
    processes, threads, granted, seconds = 4, 2, 600, 15.0
    wallets = ["p1", "p2"] if shards == 1 else _one_wallet_per_shard(shards)
    url = _store(postgres_url, pg_schema)
    setup = real_clock_ledger(url, {"SHARDS": str(shards)})
    try:
        assert len(setup.shards) == shards
        for wallet_id in wallets:
            _fund(setup, wallet_id, granted)
    finally:
        setup.close()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    startup = context.Lock()  # one instance constructed at a time: see the startup race test
    results = context.Queue()
    workers = [
        context.Process(
            target=process_debit_worker,
            args=(url, wallets),
            kwargs={
                "seed": seed,
                "threads": threads,
                "barrier": barrier,
                "startup": startup,
                "results": results,
                "seconds": seconds,
            },
            name=f"ledger-debit-worker-{seed}",
        )
        for seed in range(processes)
    ]
    started = time.monotonic()
    reports: list[dict[str, Any]] = []
    try:
        for worker in workers:
            worker.start()
        reports = [results.get(timeout=90) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=10)
        results.close()
        results.join_thread()
    elapsed = time.monotonic() - started

    errors = [error for report in reports for error in report["errors"]]
    assert not errors, "\n".join(errors)
    assert all(worker.exitcode == 0 for worker in workers)
    assert not any(report["deadline_hit"] for report in reports), "workers ran out of time"
    tally = DebitTally()
    for report in reports:
        for debit_id, (wallet_id, amount) in report["acknowledged"].items():
            tally.ack(debit_id, wallet_id, amount)  # raises if two processes got one debit id
        for wallet_id, key, code in report["refused"]:
            tally.refuse(wallet_id, key, code)

    with open_ledgers(url, 1) as (check,):
        assert len(check.shards) == shards
        summaries = {
            wallet_id: _assert_log_matches_acknowledgements(check, wallet_id, granted, tally)
            for wallet_id in wallets
        }
    codes = tally.codes()
    assert set(codes) <= {"insufficient_credits", "contention"}, codes
    debits = len(tally.acknowledged)
    numbers = {
        "debits": debits,
        "seconds_including_spawn": round(elapsed, 2),
        "worker_seconds": round(max(report["elapsed"] for report in reports), 2),
        "contention_errors": codes["contention"],
        "available": {w: s["available"] for w, s in summaries.items()},
    }
    for name, value in numbers.items():
        record_property(name, value)
    log.info("%d processes x %d threads on %s: %s", processes, threads, wallets, numbers)
