#!/usr/bin/env bash
# THE test command.
#
#   scripts/test.sh                     # static checks, then every tier (unit, property, integration)
#   scripts/test.sh tests/unit -x       # extra arguments go straight to pytest
#
# Steps, failing fast:
#   1. make sure .venv exists and holds the project (scripts/_venv.sh);
#   2. ruff check, ruff format --check, mypy, lint-imports;
#   3. unless LEDGER_TEST_DATABASE_URL is already set, start a throwaway PostgreSQL
#      cluster on a free 127.0.0.1 port and point LEDGER_TEST_DATABASE_URL at it
#      (stopped and deleted on exit, whatever happens);
#   4. pytest "$@" -- with no path arguments pytest runs `testpaths` (tests/, all tiers),
#      after a first pass of tests/unit and tests/integration on the direct write path.
#
# Environment:
#   LEDGER_TEST_DATABASE_URL  use this Postgres database instead of a throwaway cluster
#   LEDGER_SKIP_STATIC=1      skip step 2 (local iteration only; CI always runs it)
#   CI                        when set (and not false/0): HYPOTHESIS_PROFILE defaults to `ci`,
#                             and a missing database fails Postgres tests instead of skipping them
#
# The exit status is pytest's. pytest exits 5 when it collected no tests; that is
# non-zero and is passed through unchanged, so an empty run fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

is_ci() {
    case "${CI:-}" in
        "" | 0 | false | False | FALSE | no) return 1 ;;
        *) return 0 ;;
    esac
}

# --- 1. virtualenv ---------------------------------------------------------------
# shellcheck source=scripts/_venv.sh
source "$ROOT/scripts/_venv.sh"
ensure_venv
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

# --- 2. static checks ------------------------------------------------------------
if [[ "${LEDGER_SKIP_STATIC:-}" == 1 ]] && ! is_ci; then
    echo ">> LEDGER_SKIP_STATIC=1: skipping ruff, mypy and lint-imports" >&2
else
    echo ">> ruff check" >&2
    ruff check .
    echo ">> ruff format --check" >&2
    ruff format --check .
    echo ">> mypy" >&2
    mypy
    echo ">> lint-imports" >&2
    lint-imports
fi

# --- 3. throwaway PostgreSQL -----------------------------------------------------
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

stop_postgres() {
    local rc=$?
    if [[ -n "$PG_TMP" ]]; then
        if [[ -f "$PG_TMP/data/postmaster.pid" ]]; then
            as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
        PG_TMP=""
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
    # Debian/Ubuntu keep server binaries off PATH, one directory per major version.
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

start_postgres() {
    if ! PG_BIN="$(find_pg_bin)"; then
        echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
            "install PostgreSQL 15 or set LEDGER_TEST_DATABASE_URL" >&2
        exit 1
    fi

    trap stop_postgres EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    PG_TMP="$(mktemp -d -t ledger-pg.XXXXXX)"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown postgres: "$PG_TMP"
    fi

    echo ">> starting throwaway PostgreSQL ($PG_BIN) in $PG_TMP" >&2
    as_postgres "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U postgres --no-sync \
        -E UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 || {
        cat "$PG_TMP/initdb.log" >&2
        exit 1
    }

    # fsync and full_page_writes are off: this cluster is thrown away after the run,
    # so tests trade crash durability for speed.
    local port attempt
    for attempt in 1 2 3; do
        port="$(free_port)"
        if as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
            -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off" \
            start >/dev/null; then
            break
        fi
        # Most likely another process grabbed the port between probe and bind.
        echo ">> PostgreSQL failed to start on port $port (attempt $attempt)" >&2
        cat "$PG_TMP/postgres.log" >&2 || true
        if [[ "$attempt" -eq 3 ]]; then
            exit 1
        fi
    done

    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres ledger_test
    export LEDGER_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/ledger_test"
    echo ">> LEDGER_TEST_DATABASE_URL=$LEDGER_TEST_DATABASE_URL" >&2
}

if [[ -z "${LEDGER_TEST_DATABASE_URL:-}" ]]; then
    start_postgres
fi

# --- 4. pytest -------------------------------------------------------------------
if is_ci; then
    export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
fi

# Production writes through group commit (the default); a full run also proves the direct
# write path by running the unit and integration tiers again with it selected.
set +e
if [[ $# -eq 0 ]]; then
    echo ">> pytest tests/unit tests/integration (direct write path: LEDGER_TEST_GROUP_COMMIT=0)" >&2
    LEDGER_TEST_GROUP_COMMIT=0 pytest -q tests/unit tests/integration
    direct_status=$?
    if [[ $direct_status -ne 0 ]]; then
        echo ">> the direct write path failed (pytest exit $direct_status)" >&2
        exit "$direct_status"
    fi
fi
echo ">> pytest $*" >&2
pytest "$@"
status=$?
set -e
exit "$status"
