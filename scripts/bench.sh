#!/usr/bin/env bash
# THE benchmark command (`make bench ARGS="..."`). Not part of the test suite.
#
#   scripts/bench.sh                                  # every scenario, 15 s each, 1 worker
#   scripts/bench.sh --seconds 30
#   scripts/bench.sh --config workers=1,gc=y --config workers=2,gc=n
#   scripts/bench.sh --scenarios hot --no-profile --out results.jsonl
#   scripts/bench.sh --fsync-off ...                  # the labelled fsync-off variant
#
# Steps (everything torn down on exit, whatever happens):
#   1. make sure .venv holds the project (scripts/_venv.sh) and py-spy (bench time only;
#      a failed install only skips the profile);
#   2. make sure `wrk` and `hey` exist (installed from Debian's packages when root);
#   3. start a throwaway PostgreSQL (scripts/_postgres.sh) with production durability:
#      fsync, full_page_writes and synchronous_commit on (--fsync-off: the tests' fsync=off,
#      full_page_writes=off, a labelled variant); pg_stat_statements preloaded, WAL I/O timed;
#   4. run `python -m bench.run "$@"`: seed wallets, start the server per --config, load it with wrk
#      (bench/wrk/*.lua), the pgbench baseline, verify what was committed, profile.
#
# stdout: one JSON line per scenario, check and profile; progress on stderr.
# Exit status: run.py's (non-zero if a correctness check failed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# --- 1. virtualenv (+ py-spy for the profile) --------------------------------------
# shellcheck source=scripts/_venv.sh
source "$ROOT/scripts/_venv.sh"
ensure_venv
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

if [[ ! -x "$VIRTUAL_ENV/bin/py-spy" ]]; then
    echo ">> installing py-spy into .venv (profiling only)" >&2
    python -m pip install -q "py-spy>=0.4" >&2 || echo ">> py-spy unavailable: no profile" >&2
fi

# --- 2. wrk (closed loop) and hey (fixed offered rates) ------------------------------
for tool in wrk hey; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            echo ">> installing $tool (Debian package)" >&2
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >&2
        else
            echo "error: $tool not found; install it (Debian/Ubuntu: sudo apt-get install $tool)" >&2
            exit 1
        fi
    fi
done

# --- 3. throwaway PostgreSQL (shared with scripts/test.sh) ----------------------------
# shellcheck source=scripts/_postgres.sh
source "$ROOT/scripts/_postgres.sh"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Stop any server or load generator still running in our process group first.
    if [[ -n "${RUN_PID:-}" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    pg_stop
    exit "$rc"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Production durability by default: every COMMIT waits until its WAL is flushed to disk
# (fsync, full_page_writes and synchronous_commit on), which is what a deployment pays.
# --fsync-off takes the tests' settings instead (fsync=off, full_page_writes=off: the COMMIT
# waits for its WAL write, not the flush), a variant whose figures are labelled as such.
# pg_stat_statements and pg_stat_wal count statements, commits and WAL flushes per batch.
durability="durable"
args=()
for arg in "$@"; do
    if [[ "$arg" == "--fsync-off" ]]; then
        durability="fsync-off"
    else
        args+=("$arg")
    fi
done
stats="-c shared_preload_libraries=pg_stat_statements -c track_wal_io_timing=on"
if [[ "$durability" == "durable" ]]; then
    pg_start ledger_bench "-c synchronous_commit=on $stats" durable
else
    pg_start ledger_bench "-c synchronous_commit=on $stats"
fi
port="$PG_PORT"
PGBENCH="$PG_BIN/pgbench"
if [[ ! -x "$PGBENCH" ]]; then
    PGBENCH="$(command -v pgbench || true)"
fi
if [[ -z "$PGBENCH" ]]; then
    echo "error: pgbench not found (Debian: it ships with postgresql-15 / postgresql-contrib)" >&2
    exit 1
fi
echo ">> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($durability)" >&2

# --- 4. the benchmark ----------------------------------------------------------------
set +e
python -m bench.run \
    --database-url "postgresql://postgres@127.0.0.1:$port/ledger_bench" \
    --pgbench "$PGBENCH" --pg-data "$PG_TMP/data" --durability "$durability" "${args[@]}" &
RUN_PID=$!
wait "$RUN_PID"
status=$?
RUN_PID=""
set -e
exit "$status"
