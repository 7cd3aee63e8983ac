"""Benchmark orchestrator: seed, serve, load with wrk, compare with pgbench, verify, profile.

Run through ``scripts/bench.sh`` (``make bench``), which starts a throwaway PostgreSQL and
passes ``--database-url``, ``--pgbench`` and ``--pg-data``. This process only orchestrates:
the load comes from wrk (C + LuaJIT, ``bench/wrk/*.lua``) and the baseline from pgbench.

Prints one JSON line per scenario on stdout (progress goes to stderr), then one line per
correctness check, then the profile summary. Every wait and every run is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ledger.app.audit import trial_balance
from ledger.app.commands import GrantCredits, OpenWallet
from ledger.app.keys import issue_key
from ledger.app.service import CreditLedger

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK = BENCH / "wrk"
HOT_ROW_SQL = BENCH / "pgbench" / "hot_row.sql"
GRANT = 10**12  # credits per benchmark wallet: far more than any run can spend
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
TARGET_PER_S = 5000.0
TARGET_P99_MS = 10.0
TARGET_EVENTS_PER_S = 50_000.0  # usage ingest, batches of 1,000 with dedup on
INGEST = "usage_ingest_batch_1000"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE_RATE = 100  # py-spy samples per second


def log(message: str) -> None:
    print(f">> {message}", file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One server setup; each runs every scenario against the same database."""

    index: int
    workers: int = 1
    group_commit: bool = True
    server: str = "ledger"  # ledger: `ledger serve`; uvicorn: uvicorn CLI, no access log
    pool_size: int | None = None
    max_overflow: int | None = None
    auth: str = "service"  # service: a stored service key; bootstrap: the bootstrap key
    pre_ping: bool = True  # the store's default; n sets LEDGER_POSTGRES_PRE_PING=n
    fast_io: bool = False  # server=uvicorn only: uvloop + httptools (must be importable)

    @property
    def label(self) -> str:
        parts = [f"w{self.workers}", "gc" if self.group_commit else "direct", self.server]
        if self.pool_size is not None:
            parts.append(f"pool{self.pool_size}+{self.max_overflow or 0}")
        if self.auth != "service":
            parts.append(self.auth)
        if not self.pre_ping:
            parts.append("noping")
        if self.fast_io:
            parts.append("uvloop")
        return "-".join(parts)


def parse_config(index: int, spec: str) -> Config:
    """``workers=2,gc=n,server=uvicorn,pool=16,overflow=8,auth=bootstrap,preping=n,fastio=y``."""
    values: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition("=")
        if name == "workers":
            values["workers"] = int(value)
        elif name in {"gc", "preping", "fastio"}:
            field_name = {"gc": "group_commit", "preping": "pre_ping", "fastio": "fast_io"}[name]
            values[field_name] = value.lower() in {"y", "yes", "1", "on", "true"}
        elif name == "server" and value in {"ledger", "uvicorn"}:
            values["server"] = value
        elif name == "pool":
            values["pool_size"] = int(value)
        elif name == "overflow":
            values["max_overflow"] = int(value)
        elif name == "auth" and value in {"service", "bootstrap"}:
            values["auth"] = value
        else:
            raise SystemExit(f"bench: bad --config item {item!r}")
    config = Config(index=index, **values)
    if config.fast_io and config.server != "uvicorn":
        raise SystemExit("bench: fastio=y needs server=uvicorn")
    return config


# -- CPU accounting from /proc --------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime ticks) for every process."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_ = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields_[1]), int(fields_[11]) + int(fields_[12]))
    return table


def _tree_ticks(table: dict[int, tuple[int, int]], root: int | None) -> int:
    if root is None or root not in table:
        return 0
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuWatch:
    """CPU used by the server, PostgreSQL, the load generator and everything else."""

    server_pid: int | None
    postmaster_pid: int | None
    wall: float = 0.0
    before: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        table = _proc_table()
        busy, total = _machine_ticks()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "server": _tree_ticks(table, self.server_pid) / CLK_TCK,
            "postgres": _tree_ticks(table, self.postmaster_pid) / CLK_TCK,
            "load_generator": children.ru_utime + children.ru_stime,
            "machine_busy": busy / CLK_TCK,
            "machine_total": total / CLK_TCK,
        }

    def start(self) -> None:
        self.wall = time.monotonic()
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        """Percent of ONE core each used (the machine has ``nproc`` x 100 %)."""
        after = self._sample()
        wall = time.monotonic() - self.wall
        used = {k: after[k] - self.before[k] for k in after}
        cores = os.cpu_count() or 1
        machine = 100.0 * cores * used["machine_busy"] / max(used["machine_total"], 1e-9)
        pct = {k: round(100.0 * used[k] / wall, 1) for k in ("server", "postgres")}
        pct["load_generator"] = round(100.0 * used["load_generator"] / wall, 1)
        pct["machine"] = round(machine, 1)
        pct["other_processes"] = round(
            max(0.0, machine - pct["server"] - pct["postgres"] - pct["load_generator"]), 1
        )
        return pct


def postmaster_pid(pg_data: str | None) -> int | None:
    if not pg_data:
        return None
    try:
        return int((Path(pg_data) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


# -- seeding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    service_key: str
    seconds: float


def seed(
    database_url: str,
    configs: Sequence[Config],
    zipf_wallets: int,
    usage_wallets: int = 0,
    shards: int = 1,
) -> Seeded:
    """Open and fund the wallets straight through the ledger (not timed as part of a run).

    ``shards`` is recorded in the store's shard map here; the servers read it from there.
    """
    started = time.monotonic()
    ledger = CreditLedger.from_url(database_url, LEDGER_SHARDS=str(shards))
    try:

        def fund(wallet_id: str, amount: int) -> None:
            ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
            ledger.grant(
                GrantCredits(wallet_id=wallet_id, amount=amount, category="paid", grant_id="g")
            )

        wallets = [(f"hot-{c.index}", GRANT) for c in configs]
        wallets += [(f"hold-{c.index}", GRANT) for c in configs]
        wallets += [(f"z-{k}", GRANT) for k in range(1, zipf_wallets + 1)]
        wallets += [(f"u-{k}", GRANT) for k in range(1, usage_wallets + 1)]
        with ThreadPoolExecutor(max_workers=32) as pool:
            for done in pool.map(lambda w: fund(*w), wallets):
                del done
        _, service_key = issue_key(ledger, ["service"], "bench")
    finally:
        ledger.close()
    return Seeded(service_key=service_key, seconds=time.monotonic() - started)


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def store_url(database_url: str, config: Config) -> str:
    options = []
    if config.pool_size is not None:
        options.append(f"pool_size={config.pool_size}")
    if config.max_overflow is not None:
        options.append(f"max_overflow={config.max_overflow}")
    if not options:
        return database_url
    return f"{database_url}{'&' if '?' in database_url else '?'}{'&'.join(options)}"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    admin_key: str
    log_path: Path


@contextmanager
def running_server(
    database_url: str, config: Config, workdir: Path, admin_key: str, fastio_path: str = ""
) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        LEDGER_DATABASE_URL=store_url(database_url, config),
        LEDGER_BOOTSTRAP_ADMIN_KEY=admin_key,
        LEDGER_GROUP_COMMIT="y" if config.group_commit else "n",
        PYTHONUNBUFFERED="1",
    )
    if config.fast_io and fastio_path:
        # Only this server sees uvloop/httptools: `ledger serve` would pick them up too.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [fastio_path, env.get("PYTHONPATH")]))
    if not config.pre_ping:
        # eventsourcing reads LEDGER_POSTGRES_* before the store URL's POSTGRES_* defaults.
        env["LEDGER_POSTGRES_PRE_PING"] = "n"
    python = sys.executable
    if config.server == "ledger":
        ledger_cli = Path(python).parent / "ledger"
        cmd = [str(ledger_cli)] if ledger_cli.exists() else [python, "-m", "api.cli"]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(config.workers)]
    else:
        cmd = [python, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(config.workers), "--no-access-log"]
        io = ("uvloop", "httptools") if config.fast_io else ("asyncio", "h11")
        cmd += ["--loop", io[0], "--http", io[1]]
    log_path = workdir / f"server-{config.index}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}", admin_key, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise SystemExit(f"bench: the server did not start ({config.label}):\n{tail}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(process)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


# -- load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    args: tuple[str, ...]  # after run tag and key; {i} is the config index
    connections: int | None = None  # instead of --connections


SCENARIOS = {
    "hot": Scenario("hot_wallet_debit", "debit_hot.lua", ("hot-{i}",)),
    "zipf": Scenario("zipf_10k_debit", "debit_zipf.lua", ("z-", "{n}", "{s}")),
    "hold": Scenario("hold_capture_pairs", "hold_capture.lua", ("hold-{i}",)),
    "floor": Scenario("http_floor_healthz", "healthz.lua", ()),
    # 1,000 events a request: a few connections keep the server busy (--ingest-connections).
    "ingest": Scenario(INGEST, "usage_events.lua", ("u-", "{u}")),
}


def run_wrk(
    server: Server,
    scenario: Scenario,
    tag: str,
    key: str,
    options: argparse.Namespace,
    *,
    seconds: float,
    config: Config,
) -> dict[str, Any]:
    extra = [
        a.format(i=config.index, n=options.wallets, s=options.zipf_s, u=options.usage_wallets)
        for a in scenario.args
    ]
    connections = options.connections
    if scenario.name == INGEST:
        connections = options.ingest_connections
    cmd = ["wrk", "-t", str(options.wrk_threads), "-c", str(connections)]
    cmd += ["-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(WRK / scenario.script)]
    cmd += [server.url, "--", tag, key, *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise SystemExit(f"bench: wrk gave no result ({done.returncode}):\n{done.stdout}{done.stderr}")


def ok_count(status_counts: dict[str, int], prefix: str = "") -> int:
    return sum(
        n
        for s, n in status_counts.items()
        if s.startswith(prefix) and s.rsplit(":", 1)[-1].startswith("2")
    )


def summarize(
    scenario: Scenario,
    wrk: dict[str, Any],
    config: Config,
    options: argparse.Namespace,
    *,
    baseline_tps: float,
    cpu: dict[str, float],
) -> dict[str, Any]:
    seconds = wrk["duration_us"] / 1e6
    counts: dict[str, int] = dict(wrk["status_counts"])
    events_accepted = counts.pop("events_accepted", 0)  # ingest: summed "accepted" of 200s
    denials = sum(n for s, n in counts.items() if s.rsplit(":", 1)[-1] == "402")
    decided = ok_count(counts) + denials
    socket_errors = sum(wrk["socket_errors"].values())
    errors = sum(counts.values()) - decided + socket_errors
    throughput = decided / seconds
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "seconds": round(seconds, 2),
        "connections": options.connections,
        "throughput_per_s": round(throughput, 1),
        "p50_ms": round(wrk["p50_us"] / 1000, 2),
        "p99_ms": round(wrk["p99_us"] / 1000, 2),
        "p999_ms": round(wrk["p999_us"] / 1000, 2),
        "errors": errors,
        "status_counts": dict(sorted(counts.items())),
        "baseline_tps": round(baseline_tps, 1),
        "ratio_to_baseline": round(throughput / baseline_tps, 3) if baseline_tps else None,
        "workers": config.workers,
        "shards": options.shards,
        "group_commit": config.group_commit,
        "config": config.label,
        "denials_402": denials,
        "socket_errors": wrk["socket_errors"],
        "max_ms": round(wrk["max_us"] / 1000, 1),
        "cpu_pct_of_one_core": cpu,
        # Server CPU (all its processes) per answered request: the cost the web stack, the
        # ledger and the driver add up to. 1 / this is one core's ceiling.
        "server_cpu_ms_per_request": round(
            10.0 * cpu["server"] / max(wrk["requests"] / seconds, 1e-9), 3
        ),
    }
    if scenario.name in {"hot_wallet_debit", "zipf_10k_debit"}:
        record["meets_target"] = (
            throughput >= TARGET_PER_S and record["p99_ms"] < TARGET_P99_MS and errors == 0
        )
    if scenario.name == INGEST:
        record["connections"] = options.ingest_connections
        record["events_accepted"] = events_accepted
        record["events_per_s"] = round(events_accepted / seconds, 1)
        record["wallets"] = options.usage_wallets
        record["meets_target"] = record["events_per_s"] >= TARGET_EVENTS_PER_S and errors == 0
    if scenario.name == "zipf_10k_debit":
        record["wallets"] = options.wallets
    elif scenario.name == "hold_capture_pairs":
        record["pairs_per_s"] = round(ok_count(counts, "capture:") / seconds, 1)
    return record


# -- baseline ---------------------------------------------------------------------------------


def pgbench_baseline(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Single-row ``UPDATE ... WHERE balance >= 1`` on one hot row, 4 clients."""
    with psycopg.connect(options.database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_baseline'")
        if exists.fetchone() is None:
            conn.execute("CREATE DATABASE bench_baseline")
    base_url = options.database_url.rsplit("/", 1)[0] + "/bench_baseline"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS acct")
        conn.execute("CREATE TABLE acct(id int primary key, balance bigint)")
        conn.execute("INSERT INTO acct VALUES (1, %s)", (GRANT,))
    logs = Path(tempfile.mkdtemp(prefix="pgbench-", dir=workdir))
    host, port = options.pg_host, options.pg_port
    cmd = [options.pgbench, "-h", host, "-p", str(port), "-U", "postgres", "-n", "-c", "4"]
    cmd += ["-j", "2", "-T", str(int(options.seconds)), "-f", str(HOT_ROW_SQL)]
    cmd += ["-l", "--log-prefix", str(logs / "pgbench"), "bench_baseline"]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=options.seconds + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: pgbench failed:\n{done.stdout}{done.stderr}")
    tps = failed = 0.0
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        elif line.startswith("number of failed transactions"):
            failed = float(line.split(":")[1].split()[0])
    latencies = sorted(
        int(row.split()[2])
        for path in logs.iterdir()
        for row in path.read_text().splitlines()
        if row.strip()
    )
    return {
        "scenario": "baseline_pgbench_hot_row",
        "seconds": int(options.seconds),
        "connections": 4,
        "throughput_per_s": round(tps, 1),
        "p50_ms": _percentile_ms(latencies, 50),
        "p99_ms": _percentile_ms(latencies, 99),
        "p999_ms": _percentile_ms(latencies, 99.9),
        "errors": int(failed),
        "status_counts": {"transactions": len(latencies)},
        "baseline_tps": round(tps, 1),
        "ratio_to_baseline": 1.0,
        "workers": None,
        "group_commit": None,
    }


def _percentile_ms(sorted_us: list[int], pct: float) -> float | None:
    if not sorted_us:
        return None
    index = min(len(sorted_us) - 1, int(len(sorted_us) * pct / 100))
    return round(sorted_us[index] / 1000, 2)


def copy_baseline(database_url: str, rows: int, tag: str) -> dict[str, Any]:
    """COPY ``rows`` usage rows, as the ingest scenario sends them, into a plain table.

    The floor for ingest on this machine and cluster: the same rows written in one
    transaction with no validation, no dedup and no index. The rows are built first; only
    the COPY and its commit are timed.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = json.dumps({"user_id": "u1", "model": "gpt-4.1"})
    quantities = json.dumps({"input_tokens": 1200, "output_tokens": 350})
    data = [
        (f"u-{i % 1000 + 1}", f"{tag}-copy-{i}", "llm.completion", now, subject, quantities, "{}")
        for i in range(rows)
    ]
    with psycopg.connect(database_url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_usage_copy")
        conn.execute(
            "CREATE TABLE bench_usage_copy (wallet_id text, event_id text, type text,"
            " occurred_at timestamptz, subject jsonb, quantities jsonb, properties jsonb,"
            " received_at timestamptz DEFAULT now())"
        )
        conn.commit()
        started = time.monotonic()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY bench_usage_copy (wallet_id, event_id, type, occurred_at, subject,"
                " quantities, properties) FROM STDIN"
            ) as copy,
        ):
            for row in data:
                copy.write_row(row)
        conn.commit()
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_usage_copy")
    return {
        "scenario": "baseline_copy_usage_rows",
        "seconds": round(seconds, 3),
        "rows": rows,
        "throughput_per_s": round(rows / seconds, 1),
        "errors": 0,
    }


# -- correctness ------------------------------------------------------------------------------


@dataclass
class Acked:
    """What the server acknowledged (2xx), per wallet, across warm-up, runs and profiling."""

    debits: Counter[str] = field(default_factory=Counter)
    holds: Counter[str] = field(default_factory=Counter)
    captures: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)  # answers that may have committed
    usage_events: int = 0  # "accepted" summed over ingest 200s
    usage_unknown: int = 0  # events of ingest requests that may have committed unanswered

    def add(self, scenario: Scenario, config: Config, wrk: dict[str, Any]) -> None:
        counts: dict[str, int] = wrk["status_counts"]
        # May have committed without the client seeing a 2xx: 5xx answers, and requests still
        # in flight when wrk stopped (sent, never answered: cut off, timed out or read error).
        maybe = sum(n for s, n in counts.items() if s.rsplit(":", 1)[-1][0] == "5")
        maybe += max(0, wrk["sent"] - wrk["requests"])
        if scenario.name == "hold_capture_pairs":
            wallet = f"hold-{config.index}"
            self.holds[wallet] += counts.get("hold:201", 0)
            self.captures[wallet] += counts.get("capture:200", 0)
        elif scenario.name == "http_floor_healthz":
            return
        elif scenario.name == INGEST:
            self.usage_events += counts.get("events_accepted", 0)
            self.usage_unknown += 1000 * maybe
            return
        else:
            wallet = f"hot-{config.index}" if scenario.name == "hot_wallet_debit" else "zipf"
            self.debits[wallet] += ok_count(counts)
        self.unknown[wallet] += maybe


def _consumed(wallet: Any) -> tuple[int, int]:
    consumed = sum(g.amount - g.remaining - g.held for g in wallet.grants.values())
    held = sum(g.held for g in wallet.grants.values())
    return consumed, held


def _check(
    name: str, expected: int, actual: int, unknown: int, *, either_way: bool = False, **extra: Any
) -> dict[str, Any]:
    """Exact when every request was answered; else within what was left unanswered."""
    low = expected - unknown if either_way else expected
    ok = low <= actual <= expected + unknown
    return {
        "check": name,
        "ok": ok,
        "expected": expected,
        "actual": actual,
        "unanswered_or_5xx": unknown,
        **extra,
    }


def verify_config(database_url: str, config: Config, acked: Acked) -> list[dict[str, Any]]:
    """Each acknowledged debit and capture is in the ledger exactly once (server stopped)."""
    ledger = CreditLedger.from_url(database_url, group_commit=False)
    checks = []
    try:
        hot = f"hot-{config.index}"
        wallet = ledger.load_wallet(hot)
        consumed, _ = _consumed(wallet)
        checks.append(
            _check(
                f"{hot} consumed == 2xx debits",
                acked.debits[hot],
                consumed,
                acked.unknown[hot],
                config=config.label,
                wallet_events=wallet.version,
            )
        )
        hold = f"hold-{config.index}"
        consumed, held = _consumed(ledger.load_wallet(hold))
        checks.append(
            _check(
                f"{hold} consumed == 200 captures",
                acked.captures[hold],
                consumed,
                acked.unknown[hold],
                config=config.label,
            )
        )
        checks.append(
            _check(
                f"{hold} held == 201 holds - 200 captures",
                acked.holds[hold] - acked.captures[hold],
                held,
                acked.unknown[hold],
                either_way=True,
                config=config.label,
            )
        )
    finally:
        ledger.close()
    return checks


def verify_all(
    database_url: str, options: argparse.Namespace, acked: Acked
) -> list[dict[str, Any]]:
    """Zipf wallets' consumed total, and the trial balance over the whole log."""
    ledger = CreditLedger.from_url(database_url, group_commit=False)
    checks = []
    try:
        if options.wallets and "zipf" in options.scenarios:
            consumed = sum(
                _consumed(ledger.load_wallet(f"z-{k}"))[0] for k in range(1, options.wallets + 1)
            )
            checks.append(
                _check(
                    "zipf wallets consumed == 2xx debits",
                    acked.debits["zipf"],
                    consumed,
                    acked.unknown["zipf"],
                )
            )
        started = time.monotonic()
        at = datetime.now(UTC)
        # Every shard's log (each shard's postings balance on their own).
        balances = [trial_balance(shard, as_of=at) for shard in ledger.shards]
        seconds = round(time.monotonic() - started, 1)
        balance = {
            "balanced": all(b["balanced"] for b in balances),
            "debit_total": sum(b["debit_total"] for b in balances),
            "credit_total": sum(b["credit_total"] for b in balances),
        }
        total = sum(
            a["credit_total"]
            for b in balances
            for a in b["accounts"]
            if a["account"] == "platform:credits:consumed"
        )
        expected = sum(acked.debits.values()) + sum(acked.captures.values())
        checks.append(
            _check(
                "trial balance: consumed == all 2xx debits + captures",
                expected,
                total,
                sum(acked.unknown.values()),
                balanced=balance["balanced"],
                debit_total=balance["debit_total"],
                credit_total=balance["credit_total"],
                scan_seconds=seconds,
            )
        )
        checks[-1]["ok"] = checks[-1]["ok"] and balance["balanced"]
    finally:
        ledger.close()
    if "ingest" in options.scenarios:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM ledger_usage_ids").fetchone()
        checks.append(
            _check(
                "usage ids recorded == accepted events",
                acked.usage_events,
                int(row[0]) if row else 0,
                acked.usage_unknown,
            )
        )
    return checks


# -- profiling --------------------------------------------------------------------------------


def profile_hot(
    server: Server,
    key: str,
    options: argparse.Namespace,
    *,
    config: Config,
    workdir: Path,
    acked: Acked,
) -> dict[str, Any] | None:
    """py-spy over the server during an extra (unreported) run of the hot-wallet scenario."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        log("py-spy is not installed in .venv: skipping the profile")
        return None
    seconds = max(3, min(10, int(options.seconds) - 2))
    out = workdir / f"profile-{config.index}.txt"
    cmd = [str(py_spy), "record", "-p", str(server.process.pid), "-d", str(seconds)]
    cmd += ["-r", str(PROFILE_RATE), "-o", str(out), "--format", "raw", "--gil"]
    cmd += ["--nonblocking", "--subprocesses"]
    scenario = SCENARIOS["hot"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(
            run_wrk,
            server,
            scenario,
            f"p{config.index}-{secrets.token_hex(3)}",
            key,
            options,
            seconds=seconds + 2,
            config=config,
        )
        time.sleep(1)
        spy = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
        wrk = load.result()
    acked.add(scenario, config, wrk)
    if spy.returncode != 0 or not out.exists():
        log(f"py-spy failed ({spy.returncode}): {spy.stderr.strip()[-500:]}")
        return None
    summary = summarize_profile(out, options.profile_top, seconds=seconds, rate=PROFILE_RATE)
    return {"profile": config.label, "seconds": seconds, **summary}


_ROLES = (
    ("Committer._loop", "committer thread (decide + commit batches)"),
    ("run_forever", "event loop (HTTP parsing, litestar async middleware, responses)"),
    ("Runner.run", "event loop (HTTP parsing, litestar async middleware, responses)"),
    ("WorkerThread.run", "anyio worker threads (API-key check, sync handlers)"),
    ("_worker (concurrent", "executor threads"),
)


# Frames every sample of a thread shares (thread start, the event loop, the CLI): they say
# nothing about where the time goes, so the inclusive list leaves them out.
_PLUMBING = (
    "threading.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "uvicorn/main.py",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "api/cli/main.py",
    "api/serve.py",
    "<module>",
    "concurrent/futures/thread.py",
    "anyio/_backends/_asyncio.py:1113",
)


def _role(frames: list[str]) -> str:
    for marker, role in _ROLES:
        if any(marker in frame for frame in frames):
            return role
    return "other threads / unattributed"


def summarize_profile(path: Path, top: int, *, seconds: int, rate: int) -> dict[str, Any]:
    """Shares of the GIL-holding samples (``py-spy --gil``): where the Python CPU goes.

    ``gil_held_pct`` per process is samples / (seconds x rate): roughly how much of the time
    that process's GIL was held, so near 100 % means the process is bound by its one GIL.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    per_process: Counter[str] = Counter()
    per_role: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        process = "server"
        if frames[0].startswith("process "):
            process = frames[0].split(":", 1)[0]
            frames = frames[1:]
        frames = [f for f in frames if f]
        if not frames:
            continue
        total += n
        per_process[process] += n
        per_role[_role(frames)] += n
        own[frames[-1]] += n
        for frame in set(frames):
            if not any(marker in frame for marker in _PLUMBING):
                inclusive[frame] += n

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[f, round(100.0 * c / max(total, 1), 1)] for f, c in counter.most_common(top)]

    return {
        "gil_samples": total,
        "gil_held_pct": {p: round(100.0 * n / (seconds * rate), 1) for p, n in per_process.items()},
        "by_thread_pct": {
            r: round(100.0 * n / max(total, 1), 1) for r, n in per_role.most_common()
        },
        "top_self_pct": share(own),
        "top_inclusive_pct": share(inclusive),
    }


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True, help="set by scripts/bench.sh")
    parser.add_argument("--pgbench", required=True, help="set by scripts/bench.sh")
    parser.add_argument("--pg-data", default="", help="cluster directory (CPU accounting)")
    parser.add_argument("--seconds", type=float, default=15.0, help="per scenario (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unreported warm-up seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wallets", type=int, default=10_000, help="zipf wallets")
    parser.add_argument("--zipf-s", type=float, default=1.1)
    parser.add_argument(
        "--scenarios",
        default="hot,zipf,hold,ingest",
        help="comma list of hot, zipf, hold, ingest (usage events, 1,000 a request), floor "
        "(GET /healthz: the web stack alone); e.g. --scenarios ingest --wallets 0",
    )
    parser.add_argument("--usage-wallets", type=int, default=1000, help="ingest wallets")
    parser.add_argument("--shards", type=int, default=1, help="LEDGER_SHARDS of the store")
    parser.add_argument("--ingest-connections", type=int, default=8)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="server setup, repeatable: workers=N,gc=y|n,server=ledger|uvicorn,pool=N,"
        "overflow=N,auth=service|bootstrap,preping=y|n,fastio=y|n (default: workers=1,gc=y)",
    )
    parser.add_argument(
        "--fastio-path",
        default="",
        help="a directory holding uvloop and httptools (pip install --target DIR uvloop "
        "httptools), put on PYTHONPATH of fastio=y servers only",
    )
    parser.add_argument("--workers", type=int, default=None, help="shorthand: workers=N")
    parser.add_argument("--no-baseline", action="store_true", help="skip pgbench")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--out", default="", help="also append the JSON lines to this file")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for name in args.scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    specs = args.config or [f"workers={args.workers or 1}"]
    args.configs = [parse_config(i, spec) for i, spec in enumerate(specs)]
    rest = args.database_url.split("@", 1)[-1].split("/", 1)[0]
    args.pg_host, _, port = rest.partition(":")
    args.pg_port = int(port or 5432)
    return args


@dataclass
class Bench:
    """One invocation: the options, what was seeded and acknowledged, where results go."""

    options: argparse.Namespace
    workdir: Path
    seeded: Seeded
    postmaster: int | None
    sink: Any = None
    acked: Acked = field(default_factory=Acked)
    all_ok: bool = True

    def report(self, record: dict[str, Any]) -> None:
        emit(record)
        if self.sink is not None:
            self.sink.write(json.dumps(record) + "\n")
            self.sink.flush()
        if "check" in record:
            self.all_ok = self.all_ok and bool(record["ok"])

    def run_config(self, config: Config) -> None:
        options = self.options
        baseline_tps = 0.0
        if not options.no_baseline:
            log(f"[{config.label}] baseline: pgbench, 4 clients, {options.seconds:g} s")
            baseline = pgbench_baseline(options, self.workdir)
            baseline_tps = baseline["throughput_per_s"]
            self.report({**baseline, "config": config.label})
        admin_key = secrets.token_urlsafe(36)
        with running_server(
            options.database_url, config, self.workdir, admin_key, options.fastio_path
        ) as server:
            key = self.seeded.service_key if config.auth == "service" else admin_key
            for name in options.scenarios:
                self.run_scenario(server, SCENARIOS[name], key, config, baseline_tps)
            if not options.no_profile and "hot" in options.scenarios:
                log(f"[{config.label}] profiling hot_wallet_debit with py-spy")
                profile = profile_hot(
                    server, key, options, config=config, workdir=self.workdir, acked=self.acked
                )
                if profile is not None:
                    self.report(profile)
        log(f"[{config.label}] verifying what was committed")
        for check in verify_config(options.database_url, config, self.acked):
            self.report(check)

    def run_scenario(
        self, server: Server, scenario: Scenario, key: str, config: Config, baseline_tps: float
    ) -> None:
        options = self.options
        tag = f"c{config.index}{scenario.name[:3]}-{secrets.token_hex(3)}"
        if options.warmup > 0:
            warm = run_wrk(
                server, scenario, f"{tag}w", key, options, seconds=options.warmup, config=config
            )
            self.acked.add(scenario, config, warm)
        log(f"[{config.label}] {scenario.name}: {options.seconds:g} s")
        watch = CpuWatch(server.process.pid, self.postmaster)
        watch.start()
        wrk = run_wrk(server, scenario, tag, key, options, seconds=options.seconds, config=config)
        cpu = watch.stop()
        self.acked.add(scenario, config, wrk)
        record = summarize(scenario, wrk, config, options, baseline_tps=baseline_tps, cpu=cpu)
        if scenario.name == INGEST:
            rows = max(record["events_accepted"], 1000)
            log(f"[{config.label}] baseline: COPY of {rows} usage rows into a plain table")
            copy = copy_baseline(options.database_url, rows, tag)
            self.report({**copy, "config": config.label})
            record["baseline_tps"] = copy["throughput_per_s"]
            record["ratio_to_baseline"] = round(
                record["events_per_s"] / max(copy["throughput_per_s"], 1e-9), 3
            )
        self.report(record)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # scripts/bench.sh stops us with SIGTERM: unwind, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(ROOT)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        sink = stack.enter_context(Path(options.out).open("a")) if options.out else None
        log(f"seeding {len(options.configs) * 2} hot wallets and {options.wallets} zipf wallets")
        usage_wallets = options.usage_wallets if "ingest" in options.scenarios else 0
        seeded = seed(
            options.database_url, options.configs, options.wallets, usage_wallets, options.shards
        )
        log(f"seeded in {seeded.seconds:.1f} s")
        bench = Bench(options, workdir, seeded, postmaster_pid(options.pg_data), sink)
        bench.report(
            {
                "run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "nproc": os.cpu_count(),
                "loadavg": os.getloadavg(),
                "seconds": options.seconds,
                "configs": [c.label for c in options.configs],
            }
        )
        for config in options.configs:
            bench.run_config(config)
        log("verifying the zipf wallets and the trial balance (scans the whole log)")
        for check in verify_all(options.database_url, options, bench.acked):
            bench.report(check)
        return 0 if bench.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
