#!/usr/bin/env bash
# A pacsnode cluster on loopback, as docs/scale-out.md describes it: one PostgreSQL primary and a
# streaming replica, N pacsnode instances (default 3) on one shared data directory, and nginx
# balancing HTTP, DIMSE and MLLP across them.
#
#   scripts/cluster.sh start [--dir DIR] [--nodes N] [--owner PID] [-- extra pacsnode flags...]
#   scripts/cluster.sh stop [--dir DIR]
#   scripts/cluster.sh status [--dir DIR]
#
# DIR (default ./pacsnode-cluster) holds the shared data directory (DIR/data), each node's log,
# nginx's files, and cluster.env: the balancer's ports (CLUSTER_HTTP_PORT, CLUSTER_DIMSE_PORT,
# CLUSTER_MLLP_PORT), the index URLs and each node's pid and ports, for scripts to source. The
# PostgreSQL servers live in a temp dir of their own (the postgres user must be able to enter
# it); `stop` ends every process and removes them. Extra flags go to every node (routes, peers,
# HL7 destinations...). PACSNODE_BIN names the binary (default build/pacsnode/pacsnode, built
# when missing). With --owner PID, the cluster stops by itself once that process is gone (a test
# that crashed leaves nothing running). Everything listens on 127.0.0.1 only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/pg.sh
source "$repo/scripts/lib/pg.sh" # _pg_bindir, free_port

command=${1:-}
shift || true
dir=./pacsnode-cluster
nodes=3
owner=""
extra=()
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --owner) owner=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ $command == start ]]; then mkdir -p "$dir"; fi
if [[ ! -d $dir ]]; then
  echo "cluster: not running in $dir"
  exit 0
fi
dir=$(cd "$dir" && pwd)
env_file=$dir/cluster.env

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Waits (bounded) until an HTTP URL answers 200.
wait_http() {
  local url=$1 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "cluster.sh: $url did not come up" >&2
  return 1
}

stop_cluster() {
  [[ -f $env_file ]] || return 0
  # shellcheck source=/dev/null
  source "$env_file"
  local pid i
  for ((i = 1; i <= CLUSTER_NODES; i++)); do
    pid=$(cat "$dir/node$i.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  for ((i = 1; i <= CLUSTER_NODES; i++)); do
    pid=$(cat "$dir/node$i.pid" 2>/dev/null || true)
    local waited=0
    while [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/node$i.pid"
  done
  if [[ -f $dir/nginx/nginx.pid ]]; then
    kill "$(cat "$dir/nginx/nginx.pid")" 2>/dev/null || true
  fi
  local bindir
  bindir=$(_pg_bindir)
  for pgdata in "$CLUSTER_PG_DIR/replica" "$CLUSTER_PG_DIR/primary"; do
    if [[ -f $pgdata/postmaster.pid ]]; then
      (cd / && as_postgres "$bindir/pg_ctl" stop -D "$pgdata" -m fast -t 30 >/dev/null 2>&1) ||
        (cd / && as_postgres "$bindir/pg_ctl" stop -D "$pgdata" -m immediate >/dev/null 2>&1) || true
    fi
  done
  rm -rf "$CLUSTER_PG_DIR"
  rm -f "$env_file"
}

start_postgres() {
  local bindir=$1 pg_dir=$2 primary_port=$3 replica_port=$4
  chmod 755 "$pg_dir"
  [[ $(id -u) -ne 0 ]] || chown postgres: "$pg_dir"
  (cd "$pg_dir" && as_postgres "$bindir/initdb" -D "$pg_dir/primary" -A trust -U pacs -E UTF8 \
    --no-locale >"$pg_dir/initdb.log" 2>&1)
  # Streaming replication: WAL for one standby, connections from loopback only.
  (cd "$pg_dir" && as_postgres "$bindir/pg_ctl" start -w -t 60 -D "$pg_dir/primary" \
    -l "$pg_dir/primary.log" \
    -o "-p $primary_port -k $pg_dir -c listen_addresses=127.0.0.1 -c wal_level=replica \
        -c max_wal_senders=4 -c max_connections=200" >/dev/null)
  psql -X -q -h 127.0.0.1 -p "$primary_port" -U pacs -d postgres -c "CREATE DATABASE pacs" >/dev/null
  (cd "$pg_dir" && as_postgres "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U pacs \
    -D "$pg_dir/replica" -R -X stream -c fast >"$pg_dir/basebackup.log" 2>&1)
  (cd "$pg_dir" && as_postgres "$bindir/pg_ctl" start -w -t 60 -D "$pg_dir/replica" \
    -l "$pg_dir/replica.log" \
    -o "-p $replica_port -k $pg_dir -c listen_addresses=127.0.0.1 -c hot_standby=on \
        -c max_connections=200" >/dev/null)
}

write_nginx_conf() {
  local conf=$1
  shift
  local http_ports=() dimse_ports=() mllp_ports=() i
  for ((i = 1; i <= nodes; i++)); do
    http_ports+=("${node_http[$i]}")
    dimse_ports+=("${node_dimse[$i]}")
    mllp_ports+=("${node_mllp[$i]}")
  done
  {
    echo "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
    echo "worker_processes 1;"
    echo "pid $dir/nginx/nginx.pid;"
    echo "error_log $dir/nginx/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "  access_log off;"
    echo "  client_body_temp_path $dir/nginx/body; proxy_temp_path $dir/nginx/proxy;"
    echo "  fastcgi_temp_path $dir/nginx/fastcgi; uwsgi_temp_path $dir/nginx/uwsgi;"
    echo "  scgi_temp_path $dir/nginx/scgi;"
    echo "  upstream pacsnode_http {"
    for p in "${http_ports[@]}"; do echo "    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"; done
    echo "    keepalive 32;"
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$lb_http;"
    echo "    client_max_body_size 0;"
    echo "    location / {"
    echo "      proxy_pass http://pacsnode_http;"
    echo "      proxy_http_version 1.1;"
    echo "      proxy_set_header Connection \"\";"
    echo "      proxy_set_header Host \$http_host;"
    echo "      proxy_request_buffering off;"
    echo "      proxy_buffering off;"
    echo "      proxy_read_timeout 300s;"
    echo "    }"
    echo "  }"
    echo "}"
    echo "stream {"
    echo "  upstream pacsnode_dimse {"
    for p in "${dimse_ports[@]}"; do echo "    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"; done
    echo "  }"
    echo "  upstream pacsnode_mllp {"
    for p in "${mllp_ports[@]}"; do echo "    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"; done
    echo "  }"
    echo "  server { listen 127.0.0.1:$lb_dimse; proxy_pass pacsnode_dimse; proxy_connect_timeout 2s; }"
    echo "  server { listen 127.0.0.1:$lb_mllp; proxy_pass pacsnode_mllp; proxy_connect_timeout 2s; }"
    echo "}"
  } >"$conf"
}

start_cluster() {
  if [[ -f $env_file ]]; then
    echo "cluster.sh: a cluster is running in $dir (cluster.sh stop --dir $dir first)" >&2
    exit 1
  fi
  command -v nginx >/dev/null || {
    echo "cluster.sh: nginx is missing (scripts/setup.sh installs it)" >&2
    exit 1
  }
  local bin=${PACSNODE_BIN:-$repo/build/pacsnode/pacsnode}
  [[ -x $bin ]] || "$repo/scripts/build.sh" pacsnode >/dev/null
  local bindir pg_dir primary_port replica_port
  bindir=$(_pg_bindir)
  pg_dir=$(mktemp -d -t pacsnode-cluster-pg.XXXXXX)
  primary_port=$(free_port)
  replica_port=$(free_port)
  lb_http=$(free_port)
  lb_dimse=$(free_port)
  lb_mllp=$(free_port)
  local primary_url="postgresql://pacs@127.0.0.1:$primary_port/pacs"
  local replica_url="postgresql://pacs@127.0.0.1:$replica_port/pacs"
  {
    echo "CLUSTER_NODES=$nodes"
    echo "CLUSTER_PG_DIR=$pg_dir"
    echo "CLUSTER_DB=$primary_url"
    echo "CLUSTER_DB_REPLICA=$replica_url"
    echo "CLUSTER_HTTP_PORT=$lb_http"
    echo "CLUSTER_DIMSE_PORT=$lb_dimse"
    echo "CLUSTER_MLLP_PORT=$lb_mllp"
    echo "CLUSTER_DATA=$dir/data"
  } >"$env_file"
  trap 'stop_cluster' ERR
  start_postgres "$bindir" "$pg_dir" "$primary_port" "$replica_port"

  declare -gA node_http node_dimse node_mllp
  local i
  mkdir -p "$dir/data" "$dir/nginx"
  for ((i = 1; i <= nodes; i++)); do
    node_http[$i]=$(free_port)
    node_dimse[$i]=$(free_port)
    node_mllp[$i]=$(free_port)
    # The first node creates the schema; the others find it (migrations take a lock anyway).
    TCP_NODELAY=1 setsid "$bin" serve --data-dir "$dir/data" --db "$primary_url" \
      --db-replica "$replica_url" --node-name "node$i" --dimse-port "${node_dimse[$i]}" \
      --http-port "${node_http[$i]}" --mllp-port "${node_mllp[$i]}" \
      --public-url "http://127.0.0.1:$lb_http" --audit-log "$dir/node$i-audit.log" "${extra[@]}" \
      >"$dir/node$i.log" 2>&1 </dev/null &
    echo $! >"$dir/node$i.pid"
    {
      echo "CLUSTER_NODE${i}_PID=$!"
      echo "CLUSTER_NODE${i}_HTTP_PORT=${node_http[$i]}"
      echo "CLUSTER_NODE${i}_DIMSE_PORT=${node_dimse[$i]}"
      echo "CLUSTER_NODE${i}_MLLP_PORT=${node_mllp[$i]}"
    } >>"$env_file"
    wait_http "http://127.0.0.1:${node_http[$i]}/ready" || {
      tail -n 30 "$dir/node$i.log" >&2
      return 1
    }
  done
  write_nginx_conf "$dir/nginx/nginx.conf"
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log"
  wait_http "http://127.0.0.1:$lb_http/ready"
  trap - ERR
  if [[ -n $owner ]]; then
    # Its own session, so it outlives the owner's process group; bounded by the owner's life.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f $3/cluster.env ]]; do sleep 1; done
                    if [[ -f $3/cluster.env ]]; then "$2" stop --dir "$3"; fi' cluster-watcher "$owner" "$repo/scripts/cluster.sh" "$dir" \
      >/dev/null 2>&1 </dev/null &
  fi
  echo "cluster: $nodes nodes behind nginx on 127.0.0.1 - HTTP $lb_http, DIMSE $lb_dimse," \
    "MLLP $lb_mllp; index $primary_url, replica $replica_url; data $dir/data"
}

case $command in
  start) start_cluster ;;
  stop) stop_cluster ;;
  status)
    if [[ -f $env_file ]]; then cat "$env_file"; else echo "cluster: not running in $dir"; fi
    ;;
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
