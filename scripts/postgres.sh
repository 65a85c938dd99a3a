#!/usr/bin/env bash
# Make a throw-away PostgreSQL server available on 127.0.0.1 and print its URL as the last line.
#
#   scripts/postgres.sh [DIR] [PORT]    start (or reuse) the cluster in DIR (default
#                                       /tmp/sluicegate-pg) on PORT (default 55432)
#   scripts/postgres.sh stop [DIR]      stop that cluster (the data stays in DIR)
#
# Installs the Debian `postgresql` package when no pg_ctl/initdb can be found, initdbs DIR as
# the `postgres` OS user when run as root (initdb refuses root), starts the server listening on
# 127.0.0.1 only with fsync off (tests, never data you care about) and creates the login role
# and database `sluicegate` (password `sluicegate`, CREATEDB so tests can make their own
# databases). Every step is skipped when already done, so calling it again just prints the URL.
# Diagnostics go to stderr; stdout's last line is
#   postgresql+asyncpg://sluicegate:sluicegate@127.0.0.1:PORT/sluicegate
set -euo pipefail

ROLE=sluicegate
PASSWORD=sluicegate
DATABASE=sluicegate

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    # Newest version first: /usr/lib/postgresql/16/bin before .../15/bin.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

ensure_binaries() {
    if BINDIR=$(find_bindir); then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "pg_ctl/initdb not found and not root: install PostgreSQL first"
        exit 1
    fi
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    BINDIR=$(find_bindir) || { log "PostgreSQL installed but pg_ctl not found"; exit 1; }
}

# Run a command as the cluster owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [[ $(id -u) -ne 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

ensure_owner() {
    [[ $(id -u) -eq 0 ]] || return 0
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    chown postgres: "$DIR"
}

running_port() {
    # Line 4 of postmaster.pid is the port the running server listens on.
    as_owner "$BINDIR/pg_ctl" status -D "$DIR" >/dev/null 2>&1 || return 1
    sed -n 4p "$DIR/postmaster.pid"
}

psql_owner() {
    as_owner "$BINDIR/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

start_server() (
    # The server must not inherit our descriptors: holding the lock file (fd 9) would block the
    # next caller forever, holding a caller's pipe would keep its reader waiting.
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
        if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    as_owner "$BINDIR/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)

start() {
    ensure_binaries
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    ensure_owner
    # Serialise concurrent callers (two test sessions starting at once) on one lock file.
    exec 9>"$DIR.lock"
    flock 9

    if [[ ! -f "$DIR/PG_VERSION" ]]; then
        log "initdb $DIR"
        as_owner "$BINDIR/initdb" -D "$DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >&2
    fi

    local actual
    if actual=$(running_port); then
        if [[ "$actual" != "$PORT" ]]; then
            log "cluster in $DIR already runs on port $actual (asked for $PORT); using it"
            PORT=$actual
        else
            log "reusing the server already running on port $PORT"
        fi
    else
        log "starting PostgreSQL on 127.0.0.1:$PORT"
        if ! start_server >&2; then
            log "start failed; end of $DIR/server.log:"
            tail -n 20 "$DIR/server.log" >&2 || true
            exit 1
        fi
    fi

    if [[ -z $(psql_owner -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") ]]; then
        psql_owner -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
    fi
    if [[ -z $(psql_owner -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
        psql_owner -c "CREATE DATABASE $DATABASE OWNER $ROLE"
    fi
    echo "postgresql+asyncpg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
}

stop() {
    ensure_binaries
    if [[ ! -f "$DIR/PG_VERSION" ]]; then
        log "no cluster in $DIR"
        return 0
    fi
    if as_owner "$BINDIR/pg_ctl" status -D "$DIR" >/dev/null 2>&1; then
        as_owner "$BINDIR/pg_ctl" -D "$DIR" -m fast -w stop >&2
    else
        log "not running"
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    DIR=${2:-/tmp/sluicegate-pg}
    stop
else
    DIR=${1:-/tmp/sluicegate-pg}
    PORT=${2:-55432}
    start
fi
