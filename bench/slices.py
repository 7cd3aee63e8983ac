"""One record from the slices of a scenario run in turns with the peer (``--rounds``).

The machine is shared: other processes take from none to most of both cores, and change
from one minute to the next. So the ledger and the SQL peer run each scenario in alternating
slices (peer, ledger, peer, ledger, ...) and each side's slices are merged here: both saw
the same spread of outside load. Counts add up (throughput is all decisions over all the
time); hey's latencies are merged exactly (every request's time is kept); wrk reports
percentiles per run only, so a merged wrk percentile is the median of the slices' (and the
maximum the largest). CPU shares are averaged over time. PostgreSQL's counters come from the
one slice that took them (the first).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from bench.baselines import percentile_ms
from bench.scenarios import BATCH, INGEST, TARGET_BATCH_DECISIONS_PER_S, TARGET_BATCH_P99_MS

__all__ = ["LATENCIES", "merged"]

LATENCIES = "_latencies_us"
"""Key of a hey record's sorted latencies (microseconds), dropped once merged."""

_COUNTS = ("decisions", "errors", "denials_402", "events_accepted", "status_counts")
_PERCENTILES = {"p50_ms": 50.0, "p99_ms": 99.0, "p999_ms": 99.9}


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return dict(Counter(a) + Counter(b))
    return a + b


def merged(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The slices of one scenario on one target as one record."""
    out = dict(records[0])
    seconds = sum(float(r["seconds"]) for r in records)
    out["seconds"] = round(seconds, 2)
    out["slices"] = len(records)
    for key in _COUNTS:
        if key in out:
            total = records[0][key]
            for r in records[1:]:
                total = _add(total, r[key])
            out[key] = total
    latencies = [r.get(LATENCIES) for r in records]
    for key, pct in _PERCENTILES.items():
        if key not in out:
            continue
        if all(isinstance(x, list) for x in latencies):
            together = sorted(us for part in latencies for us in part or [])
            out[key] = percentile_ms(together, pct)
        else:
            values = [r[key] for r in records if r.get(key) is not None]
            out[key] = round(statistics.median(values), 2) if values else None
        out[f"{key}_slices"] = [r.get(key) for r in records]
    out.pop(LATENCIES, None)
    out.pop("server_cpu_ms_per_request", None)  # per slice only: see server_cpu_ms_per_decision
    if "max_ms" in out:
        out["max_ms"] = max(r["max_ms"] or 0 for r in records)
    shares = [r["cpu_pct_of_one_core"] for r in records if r.get("cpu_pct_of_one_core")]
    if len(shares) == len(records):
        weights = [float(r["seconds"]) for r in records]
        out["cpu_pct_of_one_core"] = {
            k: round(sum(w * s[k] for w, s in zip(weights, shares, strict=True)) / seconds, 1)
            for k in shares[0]
        }
    _rates(out, records, seconds)
    postgres = next((r["postgres"] for r in records if "postgres" in r), None)
    if postgres is not None:
        out["postgres"] = postgres
    return out


def _rates(out: dict[str, Any], records: list[dict[str, Any]], seconds: float) -> None:
    """Throughputs, CPU per decision and targets from the merged counts."""
    if "achieved_per_s" in out:  # hey: every answer counts
        answered = sum(sum(r["status_counts"].values()) for r in records)
        out["achieved_per_s"] = round(answered / seconds, 1)
    if "throughput_per_s" not in out:
        return
    throughput = out["decisions"] / seconds
    out["throughput_per_s"] = round(throughput, 1)
    baseline = out.get("baseline_tps")
    out["ratio_to_baseline"] = round(throughput / baseline, 3) if baseline else None
    server = out["cpu_pct_of_one_core"]["server"]
    out["server_cpu_ms_per_decision"] = round(10.0 * server / max(throughput, 1e-9), 3)
    requests = sum(r.get("requests_per_s", 0.0) * float(r["seconds"]) for r in records)
    if requests:
        out["requests_per_s"] = round(requests / seconds, 1)
    if out["scenario"] == BATCH:
        out["meets_target"] = (
            throughput >= TARGET_BATCH_DECISIONS_PER_S
            and (out["p99_ms"] or 0.0) <= TARGET_BATCH_P99_MS
            and out["errors"] == 0
        )
    if out["scenario"] == INGEST:
        out["events_per_s"] = round(out["events_accepted"] / seconds, 1)
    if "pairs_per_s" in out:  # hold then capture: the captures
        out["pairs_per_s"] = round(out["status_counts"].get("capture:200", 0) / seconds, 1)
