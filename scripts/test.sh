#!/usr/bin/env bash
# THE test command.
#
#   scripts/test.sh                     # static checks, then every tier (see below)
#   scripts/test.sh tests/ledger -x     # extra arguments go straight to pytest
#
# Steps, failing fast:
#   1. make sure .venv exists and holds the project (scripts/_venv.sh), and that chromium and
#      chromium-driver are installed for the browser tests (scripts/_browser.sh, apt-get);
#   2. ruff check, ruff format --check, mypy, lint-imports;
#   3. unless LEDGER_TEST_DATABASE_URL is already set, start a throwaway PostgreSQL
#      cluster on a free 127.0.0.1 port and point LEDGER_TEST_DATABASE_URL at it
#      (stopped and deleted on exit, whatever happens);
#   4. pytest "$@" -- with no path arguments pytest runs `testpaths` (tests/: every tier,
#      pure, app, property, integration and reliability), after a first pass of the app and
#      integration tiers (tests/ledger, tests/api, tests/projections, tests/integration) on the
#      direct write path.
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

# --- 1b. a headless browser for the browser tests (Debian's chromium + driver) -------
# shellcheck source=scripts/_browser.sh
source "$ROOT/scripts/_browser.sh"
ensure_browser

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
# shellcheck source=scripts/_postgres.sh
source "$ROOT/scripts/_postgres.sh"

if [[ -z "${LEDGER_TEST_DATABASE_URL:-}" ]]; then
    trap 'rc=$?; pg_stop; exit "$rc"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    pg_start ledger_test
    export LEDGER_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/ledger_test"
    echo ">> LEDGER_TEST_DATABASE_URL=$LEDGER_TEST_DATABASE_URL" >&2
fi

# --- 4. pytest -------------------------------------------------------------------
if is_ci; then
    export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
fi

# Production writes through group commit (the default); a full run also proves the direct
# write path by running the app and integration tiers again with it selected.
set +e
if [[ $# -eq 0 ]]; then
    APP_AND_INTEGRATION=(tests/ledger tests/api tests/projections tests/integration)
    echo ">> pytest ${APP_AND_INTEGRATION[*]} (direct write path: LEDGER_TEST_GROUP_COMMIT=0)" >&2
    LEDGER_TEST_GROUP_COMMIT=0 pytest -q "${APP_AND_INTEGRATION[@]}"
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
