#!/usr/bin/env bash
# THE run command: make sure .venv holds the project (runtime dependencies only; `make install`
# or `make test` add the dev tools), then start the HTTP API.
#
#   scripts/run.sh                      # serve with the CLI's defaults
#   scripts/run.sh --port 8080          # extra arguments go to `ledger serve`
#
# Runs from the repository root, so the CLI's default database URL
# (LEDGER_DATABASE_URL, default sqlite:///var/ledger.sqlite3) lands in ./var/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/_venv.sh
source "$ROOT/scripts/_venv.sh"
ensure_venv runtime # serving needs no test or lint tools

mkdir -p var
exec "$ROOT/.venv/bin/ledger" serve "$@"
