#!/usr/bin/env bash
# THE benchmark command (`make bench ARGS="..."`). Not part of the test suite.
#
#   scripts/bench.sh                                  # every scenario, 15 s each, 1 worker
#   scripts/bench.sh --seconds 30
#   scripts/bench.sh --config workers=1,gc=y --config workers=2,gc=n
#   scripts/bench.sh --scenarios hot --no-profile --out results.jsonl
#
# Steps (everything torn down on exit, whatever happens):
#   1. make sure .venv holds the project (scripts/_venv.sh) and py-spy (bench time only;
#      a failed install only skips the profile);
#   2. make sure `wrk` exists (installed from Debian's packages when running as root);
#   3. start a throwaway PostgreSQL (scripts/_postgres.sh, as scripts/test.sh: fsync=off,
#      full_page_writes=off), plus synchronous_commit=on explicitly;
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

# --- 2. wrk ------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo ">> installing wrk (Debian package)" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
    else
        echo "error: wrk not found; install it (Debian/Ubuntu: sudo apt-get install wrk)" >&2
        exit 1
    fi
fi

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

# The tests' settings (fsync=off, full_page_writes=off: a crash may lose or corrupt the
# cluster, which is thrown away anyway) plus synchronous_commit=on: every COMMIT still waits
# for its WAL write (without the fsync), so group commit is measured as committing.
pg_start ledger_bench "-c synchronous_commit=on"
port="$PG_PORT"
PGBENCH="$PG_BIN/pgbench"
if [[ ! -x "$PGBENCH" ]]; then
    PGBENCH="$(command -v pgbench || true)"
fi
if [[ -z "$PGBENCH" ]]; then
    echo "error: pgbench not found (Debian: it ships with postgresql-15 / postgresql-contrib)" >&2
    exit 1
fi
echo ">> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

# --- 4. the benchmark ----------------------------------------------------------------
set +e
python -m bench.run \
    --database-url "postgresql://postgres@127.0.0.1:$port/ledger_bench" \
    --pgbench "$PGBENCH" --pg-data "$PG_TMP/data" "$@" &
RUN_PID=$!
wait "$RUN_PID"
status=$?
RUN_PID=""
set -e
exit "$status"
