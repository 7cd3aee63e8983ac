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
#   3. start a throwaway PostgreSQL like scripts/test.sh does (fsync=off,
#      full_page_writes=off), plus synchronous_commit=on explicitly;
#   4. run bench/run.py "$@": seed wallets, start the server per --config, load it with wrk
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

# --- 3. throwaway PostgreSQL (the approach of scripts/test.sh) -----------------------
PG_TMP=""
PG_BIN=""

as_postgres() {
    # initdb and postgres refuse to run as root; drop to the `postgres` OS user then.
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Stop any server or load generator still running in our process group first.
    if [[ -n "${RUN_PID:-}" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    if [[ -n "$PG_TMP" ]]; then
        if [[ -f "$PG_TMP/data/postmaster.pid" ]]; then
            as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
    fi
    exit "$rc"
}

find_pg_bin() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$dir" && -x "$dir/initdb" ]]; then
            echo "$dir"
            return 0
        fi
    fi
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null \
        | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

free_port() {
    python -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

if ! PG_BIN="$(find_pg_bin)"; then
    echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL 15" >&2
    exit 1
fi
PGBENCH="$PG_BIN/pgbench"
if [[ ! -x "$PGBENCH" ]]; then
    PGBENCH="$(command -v pgbench || true)"
fi
if [[ -z "$PGBENCH" ]]; then
    echo "error: pgbench not found (Debian: it ships with postgresql-15 / postgresql-contrib)" >&2
    exit 1
fi

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_TMP="$(mktemp -d -t ledger-bench-pg.XXXXXX)"
if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres: "$PG_TMP"
fi
echo ">> starting throwaway PostgreSQL ($PG_BIN)" >&2
as_postgres "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U postgres --no-sync \
    -E UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 || {
    cat "$PG_TMP/initdb.log" >&2
    exit 1
}

# The tests' settings (fsync=off, full_page_writes=off: a crash may lose or corrupt the
# cluster, which is thrown away anyway) plus synchronous_commit=on: every COMMIT still waits
# for its WAL write (without the fsync), so group commit is measured as committing.
PG_OPTS="-c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
PG_OPTS+=" -c full_page_writes=off -c synchronous_commit=on"
for attempt in 1 2 3; do
    port="$(free_port)"
    if as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
        -o "-p $port -k $PG_TMP $PG_OPTS" start >/dev/null; then
        break
    fi
    echo ">> PostgreSQL failed to start on port $port (attempt $attempt)" >&2
    cat "$PG_TMP/postgres.log" >&2 || true
    if [[ "$attempt" -eq 3 ]]; then
        exit 1
    fi
done
as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres ledger_bench
echo ">> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

# --- 4. the benchmark ----------------------------------------------------------------
set +e
python bench/run.py \
    --database-url "postgresql://postgres@127.0.0.1:$port/ledger_bench" \
    --pgbench "$PGBENCH" --pg-data "$PG_TMP/data" "$@" &
RUN_PID=$!
wait "$RUN_PID"
status=$?
RUN_PID=""
set -e
exit "$status"
