#!/usr/bin/env bash
# The long reliability run: tests/reliability with more load time than the test command gives.
#
#   scripts/reliability.sh                              # 180 s of load per fault/soak test
#   LEDGER_RELIABILITY_SECONDS=600 LEDGER_RELIABILITY_CLIENTS=8 scripts/reliability.sh
#   scripts/reliability.sh -k crash                     # extra arguments go to pytest
#
# Steps:
#   1. make sure .venv exists and holds the project (scripts/_venv.sh);
#   2. unless LEDGER_TEST_DATABASE_URL is already set, start a throwaway PostgreSQL cluster
#      (the soak test uses it; the crash test always starts and crashes a cluster of its own);
#   3. pytest tests/reliability, printing each test's figures as one JSON line and
#      appending them to the report file.
#
# Environment:
#   LEDGER_RELIABILITY_SECONDS  seconds of load of each fault and soak test (default 180)
#   LEDGER_RELIABILITY_CLIENTS  client threads (default 6)
#   LEDGER_RELIABILITY_REPORT   where the JSON lines go (default var/reliability-report.jsonl)
#
# The exit status is pytest's.
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
if [[ -z "${LEDGER_TEST_DATABASE_URL:-}" ]]; then
    trap 'rc=$?; pg_stop; exit "$rc"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    pg_start ledger_test
    export LEDGER_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/ledger_test"
fi

export LEDGER_RELIABILITY_SECONDS="${LEDGER_RELIABILITY_SECONDS:-180}"
export LEDGER_RELIABILITY_CLIENTS="${LEDGER_RELIABILITY_CLIENTS:-6}"
mkdir -p var
export LEDGER_RELIABILITY_REPORT="${LEDGER_RELIABILITY_REPORT:-$ROOT/var/reliability-report.jsonl}"
# Room for the load, the faults' restarts, the clients settling and the checks afterwards.
timeout_s=$(python -c "import os; print(int(4 * float(os.environ['LEDGER_RELIABILITY_SECONDS'])) + 600)")

echo ">> tests/reliability: ${LEDGER_RELIABILITY_SECONDS} s of load per test," \
    "${LEDGER_RELIABILITY_CLIENTS} clients; figures -> $LEDGER_RELIABILITY_REPORT" >&2
set +e
pytest -q -s --timeout "$timeout_s" tests/reliability "$@"
status=$?
set -e
exit "$status"
