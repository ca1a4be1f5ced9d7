#!/usr/bin/env bash
# A throw-away PostgreSQL server for the PostgreSQL store tests and CI: its own cluster in
# DIR (data in DIR/data, log in DIR/log, Unix socket in DIR), listening only on 127.0.0.1.
# `start` prints the URL of a login role `exp` (password `exp-test`, CREATEDB: the tests
# create one fresh database each) and its database `exp`; `stop` stops the server and
# removes DIR. By hand:
#
#   url=$(scripts/pg-server.sh start /tmp/exp-pg)      # [PORT], default the first free from 55432
#   EXP_TEST_POSTGRES=$url cargo test --release
#   scripts/pg-server.sh stop /tmp/exp-pg
#
# The URL is the only line on stdout; progress and errors go to stderr. `start` on a DIR
# whose server is running prints its URL again. Installs the Debian package `postgresql`
# when no server binaries are found (needs root). PostgreSQL refuses to run as root, so
# as root the server runs as the `postgres` user (or `exp-pg`, created when there is no
# `postgres`), and directories above DIR that it cannot enter get o+x. Admin access:
# psql -h DIR -p PORT -U postgres (trust over the socket; TCP needs a password).
set -euo pipefail

usage() {
    echo "usage: $0 start DIR [PORT] | $0 stop DIR" >&2
    exit 2
}
say() { echo "pg-server: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

[ $# -ge 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
# Absolute: the socket directory and the config need it, and runuser runs from /.
dir=$(realpath -m -- "$2")
[ "$dir" != / ] || die "refusing to use / as DIR"
data=$dir/data
log=$dir/log
marker=$dir/.pg-server

# The newest installed server's bin directory, or nothing.
find_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1) || true
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
}

# as_user CMD...: runs CMD as $pg_user (from / so an unreadable cwd doesn't matter).
as_user() {
    if [ "$(id -u)" -ne 0 ]; then
        (cd / && "$@")
    elif command -v runuser >/dev/null; then
        (cd / && runuser -u "$pg_user" -- "$@")
    else
        (cd / && su -s /bin/sh -c '"$0" "$@"' -- "$pg_user" "$@")
    fi
}

# pg_running: 0 when a server runs from $data (pg_ctl status: 3 = not running, 4 = no cluster).
pg_running() {
    [ -f "$data/PG_VERSION" ] && as_user "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# tail_log FILE: its last lines on stderr, for a failure message.
tail_log() {
    if [ -s "$1" ]; then
        say "last lines of $1:"
        tail -n 25 "$1" | sed 's/^/    /' >&2
    fi
}

# The user that owns the existing cluster, else (as root) postgres / exp-pg, else ourselves.
pick_user() {
    if [ -d "$data" ]; then
        stat -c %U "$data"
    elif [ "$(id -u)" -ne 0 ]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        if ! id -u exp-pg >/dev/null 2>&1; then
            say "creating system user exp-pg (PostgreSQL refuses to run as root)"
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin exp-pg >&2 ||
                die "useradd exp-pg failed"
        fi
        echo exp-pg
    fi
}

# psql_admin SQL...: as superuser postgres over the Unix socket (trust), stopping on errors.
psql_admin() {
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@" >&2
}

# setup_roles: role exp (password re-set every time) and database exp owned by it.
setup_roles() {
    psql_admin <<'SQL' || die "creating role/database exp failed (server log: $log)"
SELECT 'CREATE ROLE exp' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'exp') \gexec
ALTER ROLE exp WITH LOGIN CREATEDB PASSWORD 'exp-test';
SELECT 'CREATE DATABASE exp OWNER exp' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'exp') \gexec
SQL
    # The URL the tests get must work: TCP with a SCRAM password, not just the socket.
    PGCONNECT_TIMEOUT=10 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$url" -c 'SELECT 1' >/dev/null ||
        die "the server runs but $url does not log in (server log: $log)"
}

start() {
    port=${1:-55432}
    [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad PORT: $port"

    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
        [ "$(id -u)" -eq 0 ] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin; install the Debian package postgresql (as root)"
        say "installing the Debian package postgresql"
        export DEBIAN_FRONTEND=noninteractive
        # A stale package index can't find it; update only then.
        apt-get install -y --no-install-recommends postgresql >&2 ||
            { apt-get update >&2 && apt-get install -y --no-install-recommends postgresql >&2; } ||
            die "apt-get install postgresql failed"
        bindir=$(find_bindir)
        [ -n "$bindir" ] || die "postgresql is installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
    fi
    pg_user=$(pick_user)

    if pg_running; then
        local running
        # postmaster.pid's 4th line is the port it listens on.
        running=$(sed -n 4p "$data/postmaster.pid")
        if [ -n "$1" ] && [ "$running" != "$port" ]; then
            say "note: the server runs on port $running, not the $port asked for"
        fi
        port=$running
        url="postgres://exp:exp-test@127.0.0.1:$port/exp"
        say "a server is already running from $dir (port $port)"
        # It may still be starting (or recovering), or have died without pg_ctl noticing.
        local i
        for i in $(seq 30); do
            "$bindir/pg_isready" -q -h "$dir" -p "$port" && break
            [ "$i" -lt 30 ] || {
                tail_log "$log"
                die "pg_ctl says a server runs from $data (pid $(head -1 "$data/postmaster.pid")) but it does not accept connections on $dir; stop it first ($0 stop $dir)"
            }
            sleep 1
        done
        setup_roles
        echo "$url"
        return
    fi

    # Without a PORT asked for, the first free one from 55432 (another server, a
    # developer's say, may hold the default).
    if [ -z "$1" ]; then
        while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
            port=$((port + 1))
            [ "$port" -le 55531 ] || die "no free port in 55432-55531"
        done
    fi
    # The socket path is limited to 107 bytes.
    [ $((${#dir} + ${#port} + 11)) -le 107 ] || die "DIR is too long for a Unix socket path: $dir"
    if [ -e "$dir" ] && [ ! -d "$dir" ]; then die "$dir exists and is not a directory"; fi
    mkdir -p "$dir"
    touch "$marker"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$pg_user": "$dir" "$marker"
        # The server user must be able to enter every directory above DIR (mktemp -d gives
        # 0700 root directories): grant search (not read) where it can't.
        local p=$dir parents=()
        while p=$(dirname "$p") && [ "$p" != / ]; do parents=("$p" "${parents[@]}"); done
        for p in "${parents[@]}"; do
            if ! as_user test -x "$p"; then
                say "granting o+x on $p so $pg_user can reach $dir"
                chmod o+x "$p"
            fi
        done
        as_user test -w "$dir" || die "$pg_user cannot write to $dir"
    fi
    chmod 0700 "$dir"

    if [ ! -f "$data/PG_VERSION" ]; then
        say "initdb $data (user $pg_user, $("$bindir/postgres" --version))"
        # initdb wants a superuser password with password auth on TCP; nothing uses it
        # (admin goes through the socket, trust), so a random one that is then dropped.
        local pwfile=$dir/.pwfile
        (umask 077 && head -c 24 /dev/urandom | base64 >"$pwfile")
        [ "$(id -u)" -ne 0 ] || chown "$pg_user": "$pwfile"
        if ! as_user "$bindir/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 --locale=C --encoding=UTF8 \
            --no-instructions >"$dir/initdb.log" 2>&1; then
            rm -f "$pwfile"
            tail_log "$dir/initdb.log"
            die "initdb failed (user $pg_user, $data)"
        fi
        rm -f "$pwfile"
        # Only on 127.0.0.1, socket in DIR; durability off: the cluster is thrown away.
        local sockdir=${dir//\'/\'\'}
        as_user tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/pg-server.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi

    say "starting PostgreSQL on 127.0.0.1:$port (log $log)"
    if ! as_user "$bindir/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >"$dir/pg_ctl.log" 2>&1; then
        tail_log "$dir/pg_ctl.log"
        tail_log "$log"
        die "pg_ctl start failed for $data on port $port"
    fi
    url="postgres://exp:exp-test@127.0.0.1:$port/exp"
    setup_roles
    say "ready"
    echo "$url"
}

stop() {
    [ -e "$dir" ] || { say "$dir does not exist; nothing to stop"; return; }
    # Only remove what start made (or an empty directory, e.g. mktemp -d before a failed start).
    if [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir was not made by $0 (no $marker); not touching it"
    fi
    bindir=$(find_bindir)
    if [ -f "$data/PG_VERSION" ]; then
        [ -n "$bindir" ] || die "$data holds a cluster but no pg_ctl was found"
        pg_user=$(pick_user)
        if pg_running; then
            say "stopping the server in $data"
            if ! as_user "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2; then
                say "fast stop failed; trying immediate"
                as_user "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2 || {
                    tail_log "$log"
                    die "could not stop the server in $data; left $dir in place"
                }
            fi
        fi
    fi
    rm -rf -- "$dir"
    say "removed $dir"
}

case $cmd in
start)
    [ $# -le 3 ] || usage
    start "${3:-}"
    ;;
stop)
    [ $# -eq 2 ] || usage
    stop
    ;;
*) usage ;;
esac
