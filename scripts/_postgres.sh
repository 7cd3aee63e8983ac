# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/bench.sh: a throwaway PostgreSQL cluster.
#
# Sourced; defines
#   pg_start DBNAME [EXTRA_SERVER_OPTIONS] [durable]
#                                           initdb in a temp dir, start on a free 127.0.0.1
#                                           port, create DBNAME; sets PG_TMP, PG_BIN, PG_PORT;
#                                           "durable" keeps PostgreSQL's own fsync and
#                                           full_page_writes (on) instead of turning them off
#   pg_stop                                 stop the cluster (immediate) and delete its dir
#   as_postgres CMD...                      run CMD as the `postgres` OS user when root
# The caller installs the traps that call pg_stop.

PG_TMP=""
PG_BIN=""
PG_PORT=""

as_postgres() {
    # initdb and postgres refuse to run as root; drop to the `postgres` OS user then.
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
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

pg_stop() {
    if [[ -n "$PG_TMP" ]]; then
        if [[ -f "$PG_TMP/data/postmaster.pid" ]]; then
            as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
        PG_TMP=""
    fi
}

pg_start() {
    local dbname="$1" extra="${2:-}" durable="${3:-}" port="" attempt
    if ! PG_BIN="$(find_pg_bin)"; then
        echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
            "install PostgreSQL 15 or set LEDGER_TEST_DATABASE_URL" >&2
        exit 1
    fi
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
    # fsync and full_page_writes are off: the cluster is thrown away after the run, so a
    # crash may lose it; runs trade crash durability for speed (callers may add options).
    # A "durable" cluster keeps the defaults (both on), as production runs: benchmarks.
    local options="-c listen_addresses=127.0.0.1 -c max_connections=300"
    if [[ "$durable" != "durable" ]]; then
        options+=" -c fsync=off -c full_page_writes=off"
    fi
    options+=" $extra"
    for attempt in 1 2 3; do
        port="$(free_port)"
        if as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
            -o "-p $port -k $PG_TMP $options" start >/dev/null; then
            break
        fi
        # Most likely another process grabbed the port between probe and bind.
        echo ">> PostgreSQL failed to start on port $port (attempt $attempt)" >&2
        cat "$PG_TMP/postgres.log" >&2 || true
        if [[ "$attempt" -eq 3 ]]; then
            exit 1
        fi
    done
    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname"
    PG_PORT="$port"
}
