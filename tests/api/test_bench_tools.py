"""The benchmark's own arithmetic: merged slices, round trips from a trace, counters per batch.

These figures end up in docs/performance.md; a slip here would misreport every run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import aged_wallets
from bench.pgstats import PROJECTOR_ROLE, PgCounters, as_role, per_batch
from bench.rates import PROCESSES, FixedRate, _split
from bench.roundtrips import count_trace
from bench.scenarios import BATCH, wrk_seconds
from bench.server import ERROR_EXCERPT_CHARS, error_excerpt
from bench.slices import LATENCIES, merged


def wrk_slice(decisions: int, seconds: float, p99: float, server_cpu: float) -> dict[str, Any]:
    return {
        "scenario": "hot_wallet_debit",
        "seconds": seconds,
        "decisions": decisions,
        "throughput_per_s": decisions / seconds,
        "p50_ms": p99 / 4,
        "p99_ms": p99,
        "p999_ms": p99 * 2,
        "max_ms": p99 * 3,
        "errors": 1,
        "status_counts": {"201": decisions, "503": 1},
        "baseline_tps": 1000.0,
        "cpu_pct_of_one_core": {"server": server_cpu, "postgres": 10.0},
        "server_cpu_ms_per_request": 9.9,
    }


def test_merged_wrk_slices_add_counts_and_take_the_median_percentile() -> None:
    slices = [wrk_slice(100, 5.0, 30.0, 50.0), wrk_slice(300, 5.0, 10.0, 30.0)]
    slices.append(wrk_slice(200, 10.0, 20.0, 40.0))

    record = merged(slices)

    assert record["seconds"] == 20.0
    assert record["decisions"] == 600
    assert record["throughput_per_s"] == 30.0
    assert record["errors"] == 3
    assert record["status_counts"] == {"201": 600, "503": 3}
    assert record["p99_ms"] == 20.0  # the median of 30, 10 and 20
    assert record["p99_ms_slices"] == [30.0, 10.0, 20.0]
    assert record["max_ms"] == 90.0
    # Time-weighted: (5 x 50 + 5 x 30 + 10 x 40) / 20.
    assert record["cpu_pct_of_one_core"]["server"] == 40.0
    assert record["server_cpu_ms_per_decision"] == round(10 * 40.0 / 30.0, 3)
    assert record["ratio_to_baseline"] == 0.03
    assert "server_cpu_ms_per_request" not in record


def test_merged_hey_slices_take_percentiles_over_every_request() -> None:
    def hey(latencies_ms: list[int]) -> dict[str, Any]:
        return {
            "scenario": "fixed_rate_400",
            "seconds": 1.0,
            "achieved_per_s": float(len(latencies_ms)),
            "p50_ms": 0.0,
            "p99_ms": 0.0,
            "max_ms": float(max(latencies_ms)),
            "errors": 0,
            "status_counts": {"201": len(latencies_ms)},
            LATENCIES: sorted(ms * 1000 for ms in latencies_ms),
        }

    record = merged([hey([1] * 98), hey([100, 100])])

    assert record["achieved_per_s"] == 50.0
    assert record["p50_ms"] == 1.0
    assert record["p99_ms"] == 100.0  # a median of the slices' p99 would say 1 or 100
    assert LATENCIES not in record


def test_merged_batch_slices_recheck_the_target() -> None:
    fast = {**wrk_slice(60_000, 10.0, 40.0, 90.0), "scenario": BATCH, "errors": 0}
    fast["status_counts"] = {}
    assert merged([fast, dict(fast)])["meets_target"] is True
    slow = {**fast, "p99_ms": 60.0}
    assert merged([fast, slow, slow])["meets_target"] is False


def test_merged_hold_slices_count_every_capture() -> None:
    first = {**wrk_slice(100, 5.0, 30.0, 50.0), "scenario": "hold_capture_pairs"}
    first["status_counts"] = {"hold:201": 50, "capture:200": 50}
    first["pairs_per_s"] = 10.0
    second = {**first, "status_counts": {"hold:201": 150, "capture:200": 150}}
    second["pairs_per_s"] = 30.0

    assert merged([first, second])["pairs_per_s"] == 20.0  # 200 captures in 10 s


def test_a_round_trip_is_a_run_sent_then_a_run_received_on_one_connection() -> None:
    trace = [
        'F\t13\tParse\t "" "BEGIN" 0',
        'F\t9\tExecute\t "" 0',
        'F\t14\tParse\t "" "COMMIT" 0',
        'F\t9\tExecute\t "" 0',
        "F\t4\tSync",
        'B\t10\tCommandComplete\t "BEGIN"',
        "B\t5\tReadyForQuery\t I",
        "-",  # another connection: its first message is no continuation
        "B\t5\tReadyForQuery\t I",
        'F\t20\tQuery\t "SELECT 1"',
        "B\t5\tReadyForQuery\t I",
    ]

    assert count_trace(trace) == {"round_trips": 2, "statements": 3, "commits": 1, "syncs": 1}


def counters(calls: dict[tuple[str, str], int], wal_syncs: float, xid: int) -> PgCounters:
    wal = {"wal_sync": wal_syncs, "wal_sync_time": 2.0 * wal_syncs}
    return PgCounters(statements=calls, commits=xid, rollbacks=0, wal=wal, xid=xid)


def test_counters_per_batch_count_the_events_inserts_and_leave_the_projector_apart() -> None:
    insert = 'INSERT INTO "public"."ledger_events" AS t (originator_id) SELECT 1'
    before = counters({("postgres", insert): 10, (PROJECTOR_ROLE, "UPDATE views"): 5}, 3, 100)
    after = counters(
        {
            ("postgres", insert): 14,
            ("postgres", "SELECT fence"): 4,
            ("postgres", "SELECT * FROM pg_stat_statements"): 9,
            (PROJECTOR_ROLE, "UPDATE views"): 45,
        },
        7,
        108,
    )

    figures = per_batch(before, after, decisions=60)

    assert figures["batches"] == 4
    assert figures["decisions_per_batch"] == 15.0
    assert figures["per_batch"]["statements"] == 2.0  # the insert and the fence
    assert figures["per_batch"]["projection_worker_statements"] == 10.0
    assert figures["per_batch"]["wal_syncs"] == 1.0
    assert figures["per_batch"]["write_transactions"] == 2.0
    assert figures["wal_sync_ms_per_sync"] == 2.0
    assert per_batch(before, after, decisions=60, peer=True)["batches"] == 60


def test_the_projection_worker_connects_as_its_own_role() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/bench"
    assert as_role(url, PROJECTOR_ROLE) == f"postgresql://{PROJECTOR_ROLE}@127.0.0.1:5432/bench"


def test_fixed_rates_spread_their_workers_over_staggered_hey_processes() -> None:
    # hey's workers in one process send together; ten processes started apart spread them
    assert _split(FixedRate(400)) == [4] * PROCESSES
    assert sum(_split(FixedRate(800))) == 80
    assert _split(FixedRate(50)) == [1] * 5
    assert _split(FixedRate(None)) == [1]


def test_a_server_log_excerpt_starts_at_its_first_error_record() -> None:
    quiet = "2026-12-07 03:07:49,410 INFO [1] uvicorn.error: Started server process [1]\n"
    failing = (
        "2026-12-07 03:08:01,002 ERROR [1] api.errors: unhandled error in POST /v1/x\n"
        "Traceback (most recent call last):\n  ...\nAttributeError: boom\n"
    )
    assert error_excerpt(quiet * 3) is None  # "uvicorn.error" is a logger name, not an error
    assert error_excerpt(quiet + failing + quiet) == failing + quiet
    bare = quiet + "Traceback (most recent call last):\n" + "x" * 2 * ERROR_EXCERPT_CHARS
    excerpt = error_excerpt(bare)
    assert excerpt is not None
    assert excerpt.startswith("Traceback")
    assert len(excerpt) == ERROR_EXCERPT_CHARS


def test_wrk_slices_last_whole_seconds() -> None:
    # wrk refuses a fractional duration: --seconds 10 in 3 rounds gave "-d 3.33333s"
    assert wrk_seconds(10, 3) == 3.0
    assert wrk_seconds(15, 3) == 5.0
    assert wrk_seconds(2, 3) == 1.0  # never zero


def test_the_aged_wallet_bench_ages_its_wallet_and_divides_by_the_new_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    aged_wallets.main(["--days", "3", "--debits", "5", "--rounds", "1"])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["days"], r["grants"]) for r in lines] == [(0, 1), (3, 5)]  # paid + 4 periods
    assert lines[0]["ratio_to_new_wallet"] == 1.0
    expected = round(lines[1]["us_per_debit"] / lines[0]["us_per_debit"], 2)
    assert abs(lines[1]["ratio_to_new_wallet"] - expected) <= 0.011
