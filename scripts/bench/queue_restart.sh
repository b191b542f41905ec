#!/usr/bin/env bash
# Queue restart benchmark: how long pacsnode takes to come back with 300,000 pending items in its
# HL7 outbox (SQLite and PostgreSQL index). One study is stored, the node is stopped, 300,000
# study-complete items for it are written into the outbox (as a long outage of the RIS would leave
# them), and the node is started again against an MLLP receiver that answers AA. Measured from
# the start of the process: until /ready answers 200, until the first message reaches the
# receiver, and how many it has after 10 s more (the delivery rate of a backlog). No peer keeps an
# HL7 outbox: the figures stand alone. Target of issue 12: a restart with 300,000 pending items
# takes seconds, not minutes.
#
#   scripts/bench/queue_restart.sh [--no-setup] [--items N] [--out DIR] [--targets LIST]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=queue-restart
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF2'
usage: scripts/bench/queue_restart.sh [--no-setup] [--items N] [--out DIR] [--targets LIST]
  --no-setup     do not run scripts/setup.sh bench first
  --items N      pending outbox items at the restart (default 300000)
  --out DIR      results directory (default bench-out/ in the repository)
  --targets LIST comma-separated subset of pacsnode/sqlite,pacsnode/postgres
EOF2
}

setup=1 items=300000 out="" target_list="pacsnode/sqlite,pacsnode/postgres"
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --items) items=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    --targets) target_list=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
  shift
done
is_count "$items" || die "--items must be a positive number"
all_targets=(pacsnode/sqlite pacsnode/postgres)
parse_targets "$target_list"
bench_prepare "$setup"
ensure_built "pacsnode pacsnode-gencorpus" "$pacsnode_bin" "$gencorpus_bin"
require_tools storescu curl python3 setsid timeout
require_target_tools
bench_begin
pg_start_if_needed
mkdir -p "$out"
results=$out/queue-restart.tsv
: >"$results"
make_corpus one-ct "one CT image" --patients 1 --studies 1 --series 1 --instances 1
corpus=$repo/build/bench-corpus/one-ct/dicom
study_uid=$(tag_of "$(first_file "$corpus")" 0020000D)

# The RIS: answers every framed message with an AA; writes the time of the first message and,
# on each message, the count so far, to files in its directory.
receiver_pid=""
start_receiver() {
  local port=$1 dir=$2
  mkdir -p "$dir"
  setsid python3 - "$port" "$dir" <<'PY' >"$dir/receiver.log" 2>&1 &
import os, socket, sys, threading, time
port, directory = int(sys.argv[1]), sys.argv[2]
count = 0
lock = threading.Lock()
def serve(conn):
    global count
    pending = b''
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            pending += data
            while b'\x1c\r' in pending:
                frame, pending = pending.split(b'\x1c\r', 1)
                message = frame[frame.find(b'\x0b') + 1:]
                control_id = message.split(b'\r', 1)[0].split(b'|')[9]
                conn.sendall(b'\x0bMSH|^~\\&|RIS|RIS|PACSNODE||20261203000000||ACK|A' +
                             control_id + b'|P|2.5.1\rMSA|AA|' + control_id + b'\r\x1c\r')
                with lock:
                    count += 1
                    if count == 1:
                        with open(os.path.join(directory, 'first'), 'w') as f:
                            f.write('%.3f' % time.time())
                    with open(os.path.join(directory, 'count.tmp'), 'w') as f:
                        f.write(str(count))
                    os.replace(os.path.join(directory, 'count.tmp'),
                               os.path.join(directory, 'count'))
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(('127.0.0.1', port))
listener.listen(16)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
  receiver_pid=$!
}
bench_on_exit() { stop_group "$receiver_pid" receiver; }

# Writes `items` pending study-complete items for the study into the outbox.
fill_outbox() {
  local target=$1 db=$2 data=$3 now
  now=$(($(date +%s) * 1000))
  local select="SELECT 'RIS', 'study-complete', '$study_uid', '', $now, $now"
  if [[ "$target" == pacsnode/sqlite ]]; then
    sqlite3 -cmd '.timeout 10000' "$data/index.sqlite" \
      "INSERT INTO hl7_outbox (destination, event, subject, detail, created_ms, updated_ms)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $items)
       $select FROM n;"
  else
    psql -X -q "$db" -c "INSERT INTO hl7_outbox (destination, event, subject, detail, created_ms,
      updated_ms) $select FROM generate_series(1, $items);"
  fi
}

seconds_since() { python3 -c "import sys,time; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

for target in "${targets[@]}"; do
  data=$work/${target//\//-}
  rm -rf "$data"
  mkdir -p "$data"
  db=sqlite
  if [[ "$target" == pacsnode/postgres ]]; then
    db=$(pg_create_db queue_restart)
  fi
  ris_port=$(free_port) dimse_port=$(free_port) http_port=$(free_port)
  start_receiver "$ris_port" "$data/ris"
  serve=(serve --data-dir "$data" --dimse-port "$dimse_port" --http-port "$http_port"
    --mllp-port "$(free_port)" --aet PACSNODE --db "$db" --study-quiet-seconds 3600
    --hl7-destination "RIS=127.0.0.1:$ris_port" --log-level warn)
  start_server "$data/first.log" "$pacsnode_bin" "${serve[@]}"
  wait_for_echo PACSNODE "$dimse_port" "$server_pid"
  run_client "$data/store.log" 60 storescu -aec PACSNODE +sd +r 127.0.0.1 "$dimse_port" "$corpus" ||
    { show_client_log "$data/store.log"; die "storescu failed"; }
  stop_server
  fill_outbox "$target" "$db" "$data"
  start=$(python3 -c 'import time; print("%.3f" % time.time())')
  start_server "$data/restart.log" "$pacsnode_bin" "${serve[@]}"
  ready=""
  # Bounded: 600 polls 0.1 s apart.
  for ((i = 0; i < 600; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/ready")" == 200 ]]; then
      ready=$(python3 -c 'import time; print("%.3f" % time.time())')
      break
    fi
    sleep 0.1
  done
  [[ -n "$ready" ]] || { show_server_log; die "$target was not ready within 60 s"; }
  for ((i = 0; i < 600; i++)); do [[ -f "$data/ris/first" ]] && break; sleep 0.1; done
  [[ -f "$data/ris/first" ]] || { show_server_log; die "$target delivered nothing within 60 s"; }
  first=$(cat "$data/ris/first")
  sleep 10
  delivered=$(cat "$data/ris/count")
  stop_server
  stop_group "$receiver_pid" receiver
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$items" "$(seconds_since "$start" "$ready")" \
    "$(seconds_since "$start" "$first")" "$delivered" >>"$results"
done

echo
printf '%-20s %10s %12s %16s %22s\n' target pending "ready (s)" "first sent (s)" "sent in the next 10 s"
while IFS=$'\t' read -r target n ready first delivered; do
  printf '%-20s %10s %12s %16s %22s\n' "$target" "$n" "$ready" "$first" "$delivered"
done <"$results"
echo "results: $results"
