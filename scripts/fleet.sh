#!/usr/bin/env bash
# A ledger fleet on this machine, without docker: for trying it out, tests and benchmarks.
#
#   scripts/fleet.sh                       # start; Ctrl-C tears everything down
#   scripts/fleet.sh -- CMD ARGS...        # start, run CMD (LEDGER_URL, LEDGER_KEY exported),
#                                          # tear down; exit status is CMD's
#
# What runs (all on 127.0.0.1, everything stopped and deleted on exit):
#   * two throwaway PostgreSQL clusters (scripts/_postgres.sh); cluster A holds the home
#     shard (keys, price books, the read models) and the even shards, cluster B the odd ones
#     (LEDGER_SHARD_URLS, docs/decisions/0017-shard-layout.md);
#   * FLEET_APIS (default 3) `ledger serve` processes on distinct ports, each announcing its
#     own address as LEDGER_INTERNAL_URL (shard leases and forwarding,
#     docs/decisions/0016-shard-owners.md);
#   * one `ledger project` worker;
#   * HAProxy (Debian's package; installed with apt-get when missing and running as root),
#     round robin over the API processes on FLEET_PORT (default: a free port).
#
# Environment: FLEET_APIS, FLEET_SHARDS (default 4), FLEET_PORT, FLEET_KEEP_LOGS=1 (print
# the log directory instead of deleting it), FLEET_OWNERS=0 (no LEDGER_INTERNAL_URL: every
# process decides every command itself, as before shard owners; for comparisons),
# FLEET_CHANNEL=0 (no owner channel: spending commands are forwarded as HTTP requests, as
# before it; for comparisons).
# stdout: "LEDGER_URL=..." and "LEDGER_KEY=..." lines once the fleet answers; progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/_venv.sh
source "$ROOT/scripts/_venv.sh"
ensure_venv
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

APIS="${FLEET_APIS:-3}"
SHARDS="${FLEET_SHARDS:-4}"
COMMAND=()
if [[ "${1:-}" == "--" ]]; then
    shift
    COMMAND=("$@")
fi

if ! command -v haproxy >/dev/null 2>&1; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo ">> installing haproxy (Debian package)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2
    else
        echo "error: haproxy not found; install it (Debian/Ubuntu: sudo apt-get install haproxy)" >&2
        exit 1
    fi
fi

# shellcheck source=scripts/_postgres.sh
source "$ROOT/scripts/_postgres.sh"

CLUSTERS=()
PIDS=()
LOGS="$(mktemp -d -t ledger-fleet.XXXXXX)"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    local dir
    for dir in "${CLUSTERS[@]}"; do
        PG_TMP="$dir"
        pg_stop
    done
    if [[ "${FLEET_KEEP_LOGS:-0}" == "1" ]]; then
        echo ">> logs kept in $LOGS" >&2
    else
        rm -rf "$LOGS"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start ledger
CLUSTERS+=("$PG_TMP")
URL_A="postgresql://postgres@127.0.0.1:$PG_PORT/ledger"
pg_start ledger
CLUSTERS+=("$PG_TMP")
URL_B="postgresql://postgres@127.0.0.1:$PG_PORT/ledger"

shard_urls=()
for ((k = 0; k < SHARDS; k++)); do
    if ((k % 2 == 0)); then shard_urls+=("$URL_A"); else shard_urls+=("$URL_B"); fi
done
export LEDGER_DATABASE_URL="$URL_A"
export LEDGER_SHARDS="$SHARDS"
LEDGER_SHARD_URLS="$(IFS=,; echo "${shard_urls[*]}")"
export LEDGER_SHARD_URLS
LEDGER_BOOTSTRAP_ADMIN_KEY="fleet-$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
export LEDGER_BOOTSTRAP_ADMIN_KEY

wait_ready() {
    local url="$1" pid="$2" i
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: the process behind $url exited; its log:" >&2
            tail -n 40 "$LOGS"/*.log >&2 || true
            exit 1
        fi
        if python -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/readyz", timeout=1)' "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: $url did not become ready" >&2
    exit 1
}

backends=""
for ((i = 1; i <= APIS; i++)); do
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    internal="$url"
    if [[ "${FLEET_OWNERS:-1}" == "0" ]]; then internal=""; fi
    LEDGER_OWNER_CHANNEL="$([[ "${FLEET_CHANNEL:-1}" == "0" ]] && echo false || echo true)" \
    LEDGER_INTERNAL_URL="$internal" ledger serve --host 127.0.0.1 --port "$port" \
        >"$LOGS/api-$i.log" 2>&1 &
    PIDS+=("$!")
    # The first one records the store's layout; the others then find it.
    if ((i == 1)); then wait_ready "$url" "$!"; fi
    backends+="    server api$i 127.0.0.1:$port check inter 1s fall 2 rise 1"$'\n'
    api_pids[i]=$!
    api_urls[i]="$url"
done
for ((i = 2; i <= APIS; i++)); do wait_ready "${api_urls[i]}" "${api_pids[i]}"; done

ledger project >"$LOGS/project.log" 2>&1 &
PIDS+=("$!")

PORT="${FLEET_PORT:-$(free_port)}"
cat >"$LOGS/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    # A request that failed to connect goes to another API process.
    retries 2
    option redispatch
frontend ledger
    bind 127.0.0.1:$PORT
    default_backend apis
backend apis
    balance roundrobin
    # /healthz, not /readyz: a process stays useful for the shards whose cluster is up.
    option httpchk GET /healthz
$backends
EOF
haproxy -f "$LOGS/haproxy.cfg" -db >"$LOGS/haproxy.log" 2>&1 &
PIDS+=("$!")
wait_ready "http://127.0.0.1:$PORT" "$!"

export LEDGER_URL="http://127.0.0.1:$PORT"
export LEDGER_KEY="$LEDGER_BOOTSTRAP_ADMIN_KEY"
echo ">> fleet: $APIS API processes behind HAProxy, $SHARDS shards on 2 clusters" >&2
echo "LEDGER_URL=$LEDGER_URL"
echo "LEDGER_KEY=$LEDGER_KEY"

if ((${#COMMAND[@]})); then
    set +e
    "${COMMAND[@]}"
    status=$?
    set -e
    exit "$status"
fi
echo ">> Ctrl-C stops the fleet" >&2
while true; do sleep 3600 & wait $!; done
