# shellcheck shell=bash
# A throwaway PostgreSQL server for benchmarks and tests: source this file, call pg_start (and set
# `trap pg_stop EXIT`), create databases with pg_create_db, and pg_stop when done. The server runs
# from a fresh temp dir on a free loopback port, trusts local connections as the user "pacs", and
# keeps fsync on. The functions are quiet: their output goes to a log in the temp dir, which is
# printed only when something fails.
#
#   source scripts/lib/pg.sh
#   trap pg_stop EXIT
#   pg_start                     # exports PACSNODE_PG_PORT, PACSNODE_PG_URL, PACSNODE_PG_DIR
#   url=$(pg_create_db ingest1)  # postgresql://pacs@127.0.0.1:PORT/ingest1
#   pg_drop_db ingest1
#   pg_stop                      # safe to call twice
#
# PACSNODE_PG_BINDIR may name the directory holding initdb and pg_ctl; by default they are taken
# from PATH, else from the newest /usr/lib/postgresql/*/bin. As root, the server runs as the
# "postgres" user (initdb refuses root); otherwise as the calling user.
set -euo pipefail

# shellcheck source=scripts/lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/net.sh"

_pg_dir=""  # the temp dir: data/, the server's log, our log, the Unix socket
_pg_port=""
_pg_watcher=""  # pid of the process that stops the server if its owner dies without pg_stop

# Prints a message and the logs of what went wrong to stderr (callers then return 1).
_pg_fail() {
  echo "pg.sh: $*" >&2
  if [[ -n "$_pg_dir" ]]; then
    local f
    for f in "$_pg_dir/pg.log" "$_pg_dir/server.log"; do
      if [[ -s "$f" ]]; then
        echo "---- $f" >&2
        tail -n 60 "$f" >&2
      fi
    done
  fi
}

_pg_bindir() {
  if [[ -n "${PACSNODE_PG_BINDIR:-}" ]]; then
    echo "$PACSNODE_PG_BINDIR"
  elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  else
    local newest
    newest=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null |
      sort -V | tail -n 1)
    [[ -n "$newest" ]] || return 1
    dirname "$newest"
  fi
}

# Runs a command as the server's owner, from the temp dir (the owner may not read our cwd).
_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$_pg_dir" && runuser -u postgres -- "$@")
  else
    (cd "$_pg_dir" && "$@")
  fi
}

# Stops the server once the shell that started it is gone, in case that shell never gets to run
# pg_stop (SIGKILL, SIGHUP, a test runner's timeout). Its own session, so it outlives its owner's
# process group; silent.
_pg_start_watcher() {
  local owner=$1 bindir=$2
  local as_owner=()
  if [[ $(id -u) -eq 0 ]]; then as_owner=(runuser -u postgres --); fi
  # shellcheck disable=SC2016  # expanded by the watcher's shell
  setsid bash -c '
    owner=$1 dir=$2 pg_ctl=$3
    shift 3
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    cd "$dir" && "$@" "$pg_ctl" stop -D "$dir/data" -m fast -t 30
    cd / && rm -rf "$dir"
  ' pg-watcher "$owner" "$_pg_dir" "$bindir/pg_ctl" "${as_owner[@]}" >/dev/null 2>&1 </dev/null &
  _pg_watcher=$!
}

# Runs psql against the throwaway server; extra arguments go to psql.
pg_psql() {
  if [[ -z "$_pg_port" ]]; then
    _pg_fail "pg_psql: no server (call pg_start first)"
    return 1
  fi
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$_pg_port" -U pacs "$@"
}

pg_start() {
  if [[ -n "$_pg_dir" ]]; then
    _pg_fail "pg_start: a server is already running in $_pg_dir"
    return 1
  fi
  local bindir
  if ! bindir=$(_pg_bindir); then
    _pg_fail "pg_start: initdb/pg_ctl not found (set PACSNODE_PG_BINDIR)"
    return 1
  fi
  _pg_dir=$(mktemp -d -t pacsnode-pg.XXXXXX)
  chmod 755 "$_pg_dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$_pg_dir"; fi
  local log="$_pg_dir/pg.log"
  : >"$log"

  if ! _pg_as_owner "$bindir/initdb" -D "$_pg_dir/data" -A trust -U pacs -E UTF8 --no-locale \
    >>"$log" 2>&1; then
    _pg_fail "pg_start: initdb failed"
    return 1
  fi

  # The port is free when chosen but may be taken before the server binds it: try a few.
  local isready=pg_isready attempt port deadline
  if [[ -x "$bindir/pg_isready" ]]; then isready=$bindir/pg_isready; fi
  for attempt in 1 2 3; do
    port=$(free_port)
    echo "pg.sh: attempt $attempt: port $port" >>"$log"
    # -w: pg_ctl returns once the server accepts connections, or fails when it exits (a server
    # that lost the race for its port). Asking `pg_ctl status` while it starts is no test: the
    # status says "no server running" until the server has written its pid file.
    if ! _pg_as_owner "$bindir/pg_ctl" start -w -t 30 -D "$_pg_dir/data" \
      -l "$_pg_dir/server.log" \
      -o "-p $port -k $_pg_dir -c listen_addresses=127.0.0.1 -c fsync=on" >>"$log" 2>&1; then
      _pg_as_owner "$bindir/pg_ctl" stop -D "$_pg_dir/data" -m immediate >>"$log" 2>&1 || true
      continue
    fi
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
      if "$isready" -q -h 127.0.0.1 -p "$port" -U pacs -d postgres -t 2 >>"$log" 2>&1; then
        _pg_port=$port
        export PACSNODE_PG_PORT=$port
        export PACSNODE_PG_URL="postgresql://pacs@127.0.0.1:$port/postgres"
        export PACSNODE_PG_DIR=$_pg_dir
        _pg_start_watcher "$BASHPID" "$bindir"
        return 0
      fi
      sleep 0.2
    done
    _pg_as_owner "$bindir/pg_ctl" stop -D "$_pg_dir/data" -m immediate >>"$log" 2>&1 || true
  done
  _pg_fail "pg_start: the server did not come up (see above)"
  pg_stop
  return 1
}

# Creates database NAME (letters, digits, underscores) and prints its URL.
pg_create_db() {
  local name=${1:-}
  if [[ ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "pg.sh: pg_create_db: '$name' is not a plain database name" >&2
    return 1
  fi
  if ! pg_psql -d postgres -c "CREATE DATABASE \"$name\"" >>"$_pg_dir/pg.log" 2>&1; then
    _pg_fail "pg_create_db: could not create $name"
    return 1
  fi
  echo "postgresql://pacs@127.0.0.1:$_pg_port/$name"
}

# Drops database NAME if it exists (a pacsnode still connected to it must be stopped first).
pg_drop_db() {
  local name=${1:-}
  if [[ ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "pg.sh: pg_drop_db: '$name' is not a plain database name" >&2
    return 1
  fi
  if ! pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$name\"" >>"$_pg_dir/pg.log" 2>&1; then
    _pg_fail "pg_drop_db: could not drop $name"
    return 1
  fi
}

# Stops the server and removes its temp dir. Safe to call twice, or without pg_start.
pg_stop() {
  [[ -n "$_pg_dir" ]] || return 0
  local dir=$_pg_dir bindir
  if [[ -n "$_pg_watcher" ]]; then
    kill "$_pg_watcher" 2>/dev/null || true
    wait "$_pg_watcher" 2>/dev/null || true
    _pg_watcher=""
  fi
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    if bindir=$(_pg_bindir); then
      if ! _pg_as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m fast -t 30 >>"$dir/pg.log" 2>&1; then
        if ! _pg_as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m immediate \
          >>"$dir/pg.log" 2>&1; then
          _pg_fail "pg_stop: could not stop the server in $dir"
        fi
      fi
    fi
  fi
  _pg_dir=""
  _pg_port=""
  unset PACSNODE_PG_PORT PACSNODE_PG_URL PACSNODE_PG_DIR
  rm -rf "$dir"
}
