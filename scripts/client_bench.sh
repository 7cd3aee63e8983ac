#!/usr/bin/env bash
# The Python client's micro-batching against per-request calls (docs/performance.md,
# "The Python client: micro-batching"). Not part of the test suite.
#
#   scripts/client_bench.sh                       # threads and asyncio, 10 s per mode
#   scripts/client_bench.sh --seconds 20 --threads 64 --drivers threads
#
# Starts a throwaway PostgreSQL (scripts/_postgres.sh) with production durability (fsync,
# full_page_writes and synchronous_commit on), then runs bench/client_batching.py on it:
# ledger serve and ledger project, and one client process loading them.
# stdout: one JSON line per mode and a final check; progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/_venv.sh
source "$ROOT/scripts/_venv.sh"
ensure_venv
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

# shellcheck source=scripts/_postgres.sh
source "$ROOT/scripts/_postgres.sh"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
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

pg_start ledger_client_bench "-c synchronous_commit=on" durable
echo ">> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2

set +e
python -m bench.client_batching \
    --database-url "postgresql://postgres@127.0.0.1:$PG_PORT/ledger_client_bench" "$@" &
RUN_PID=$!
wait "$RUN_PID"
status=$?
RUN_PID=""
set -e
exit "$status"
