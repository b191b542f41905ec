#!/usr/bin/env bash
# Load and soak (issue 8): mixed traffic against one pacsnode, all at once, for a bounded time:
#  - 16 DICOM associations side by side, each sending C-STOREs one after another: our DcmSCU
#    client pacsnode-store-timer (DCMTK, as storescu; one thread per association, its own patient
#    and studies), every C-STORE a new instance (256x256 CT, 133 KB), each round trip timed;
#  - 64 HTTP keep-alive connections (pacsnode-http-timer --paths), each cycling over QIDO-RS
#    /studies?PatientID=, WADO-RS /studies/{study}/metadata and WADO-RS retrieve of one instance
#    (multipart/related application/dicom) on 40 preloaded studies of 10 instances;
#  - an HL7 stream: ORM^O01 new orders on one MLLP connection, each waiting for its AA
#    (pacsnode-mllp-timer).
# The node is preloaded (400 instances) and warmed up with the same mix for 15 s; its RSS, open
# file descriptors and threads are read then ("before"), sampled every 0.25 s during the load (peak;
# VmHWM is reset after the warm-up), and read again after it, once the clients are gone: the fd and
# thread counts get up to 30 s to fall back. The summary shows, per operation, count, ops/s, errors, p50 and p99.
# Fails on any error, on more threads or fds after the load than before it (a leak; the SQLite
# index's files may grow up to its connection pool's bound), on a peak RSS
# above --max-rss-mb, and when the index lacks an acknowledged instance or order.
#
#   scripts/bench/load.sh [--no-setup] [--seconds N] [--out DIR] [--db sqlite|postgres|both]
#                         [--max-rss-mb N]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=load
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/load.sh [--no-setup] [--seconds N] [--out DIR] [--db sqlite|postgres|both]
                             [--max-rss-mb N]
  --no-setup      do not run scripts/setup.sh bench first
  --seconds N     how long the load runs (default 60)
  --out DIR       results directory (default bench-out/ in the repository)
  --db KIND       the node's index: sqlite (default), postgres (a throwaway server), or both, one
                  after the other
  --max-rss-mb N  fail when the node's peak RSS during the load exceeds N MB (default 1024)
EOF
}

setup=1 seconds=60 out="" db_choice=sqlite max_rss_mb=1024
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --seconds) seconds=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    --db) db_choice=${2:?}; shift ;;
    --max-rss-mb) max_rss_mb=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
  shift
done
is_count "$seconds" || die "--seconds must be a positive number"
((seconds <= 86400)) || die "--seconds must be at most 86400"
is_count "$max_rss_mb" || die "--max-rss-mb must be a positive number"
all_targets=(pacsnode/sqlite pacsnode/postgres)
case "$db_choice" in
  sqlite) parse_targets pacsnode/sqlite ;;
  postgres) parse_targets pacsnode/postgres ;;
  both) parse_targets pacsnode/sqlite,pacsnode/postgres ;;
  *) die "--db must be sqlite, postgres or both" ;;
esac

stores=16        # DICOM associations
http_clients=64  # HTTP connections
hl7_streams=1    # MLLP connections
settle_seconds=30
warm_seconds=15
dir="" port="" http="" mllp="" # the run's directory and the node's ports
uid_root=1.2.826.0.1.3680043.10.1457.9 # gencorpus's root, branch 9: the load's new instances

bench_prepare "$setup"
store_bin=$repo/build/tests/pacsnode-store-timer
http_bin=$repo/build/tests/pacsnode-http-timer
mllp_bin=$repo/build/tests/pacsnode-mllp-timer
ensure_built "pacsnode pacsnode-gencorpus pacsnode-store-timer pacsnode-http-timer pacsnode-mllp-timer" \
  "$pacsnode_bin" "$gencorpus_bin" "$store_bin" "$http_bin" "$mllp_bin"
require_tools storescu echoscu dcmdump python3 setsid timeout
require_target_tools
bench_begin
pg_start_if_needed
mkdir -p "$out"

make_corpus load-preload "the preloaded studies (20 patients x 2 studies x 10 instances, 256x256)" \
  --patients 20 --studies 2 --series 1 --instances 10 --rows 256 --columns 256 --seed 31
make_corpus load-store "the C-STORE corpus (16 patients x 2 studies x 5 instances, 256x256)" \
  --patients "$stores" --studies 2 --series 1 --instances 5 --rows 256 --columns 256 --seed 32
preload=$repo/build/bench-corpus/load-preload/dicom
store_corpus=$repo/build/bench-corpus/load-store/dicom
preload_count=$(count_files "$preload" -name '*.dcm')

# The HTTP mix: per preloaded study, a QIDO of its patient, its metadata, and one of its instances
# (the study's n-th for the n-th study, so the retrieves spread over the series).
paths=$work/paths.txt
find "$preload" -name '*.dcm' -print0 | sort -z |
  xargs -0 dcmdump -q -s +P 0010,0020 +P 0020,000D +P 0020,000E +P 0008,0018 |
  python3 -c '
import re, sys
# dcmdump prints, per file, the four values in the order of its +P options: the SOP Instance UID
# (0008,0018) ends a file.
values = re.findall(r"^\((\w{4},\w{4})\) \w\w \[([^\]]*)\]", sys.stdin.read(), re.M)
files, current = [], {}
for tag, value in values:
    current[tag] = value
    if tag == "0008,0018":
        files.append(current)
        current = {}
studies = {}
for f in files:
    studies.setdefault(f["0020,000d"], []).append(f)
base = "/dicom-web"
for n, (study, members) in enumerate(sorted(studies.items())):
    pick = members[n % len(members)]
    patient, series, sop = pick["0010,0020"], pick["0020,000e"], pick["0008,0018"]
    print(f"qido {base}/studies?PatientID={patient}")
    print(f"metadata {base}/studies/{study}/metadata")
    print(f"wado {base}/studies/{study}/series/{series}/instances/{sop}")
' >"$paths"
path_count=$(wc -l <"$paths")
((path_count == 3 * preload_count / 10)) || die "built $path_count HTTP paths from the preloaded corpus, expected $((3 * preload_count / 10))"

# /proc figures of the node: VmRSS, VmHWM and Threads from status, and open fds.
proc_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# CPU time in clock ticks: the node's (user + system), and the machine's busy and total.
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine_cpu() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; printf "%d\t%d\n", t - $5 - $6, t}' /proc/stat; }
proc_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# What the node's fds point to (files, sockets with their inode), for a leak's diagnosis.
fd_list() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%f\t%l\n' | sort -n; }

# Samples the node every 0.25 s into FILE (elapsed s, RSS kB, threads, fds) while $work/sampling
# exists; at most LIMIT seconds.
sample_node() {
  local pid=$1 file=$2 limit=$3 start=${EPOCHREALTIME/./} i us rss threads fds
  for ((i = 0; i < limit * 4; i++)); do
    [[ -e "$work/sampling" ]] || break
    rss=$(proc_field "$pid" VmRSS 2>/dev/null) || break
    threads=$(proc_field "$pid" Threads 2>/dev/null) || break
    fds=$(proc_fds "$pid" 2>/dev/null) || break
    us=$((${EPOCHREALTIME/./} - start))
    printf '%d.%02d\t%s\t%s\t%s\n' $((us / 1000000)) $((us % 1000000 / 10000)) "$rss" "$threads" \
      "$fds" >>"$file"
    sleep 0.25
  done
}

count_orders() {
  case "$1" in
    pacsnode/sqlite) sqlite3 -cmd '.timeout 10000' "$2/index.sqlite" 'select count(*) from orders' ;;
    pacsnode/postgres) PGCONNECT_TIMEOUT=10 psql -X -A -t -q "$3" -c 'select count(*) from orders' ;;
  esac
}

# The op= line of a tool's log.
op_lines() { grep -E '^op=' "$1" || true; }
op_field() { sed -nE "s/.* $2=([^ ]*).*/\1/p" <<<" $1"; }

# Runs the mix for SECONDS, the clients' logs named TAG-{store,http,hl7}.log in $dir/logs: the
# stores' SOP Instance UIDs under $uid_root.BRANCH, the orders' control IDs prefixed PREFIX. Dies
# when a client did not run (errors it counted are in its figures).
mixed_traffic() {
  local secs=$1 tag=$2 branch=$3 prefix=$4 limit=$(($1 + 120)) i rc
  local -a names=(store http hl7) pids=() failed=()
  timeout -k 10 "$limit" "$store_bin" --port "$port" --aec PACSNODE --dir "$store_corpus" \
    --associations "$stores" --seconds "$secs" --uid-prefix "$uid_root.$branch" \
    >"$dir/logs/$tag-store.log" 2>&1 &
  pids+=($!)
  timeout -k 10 "$limit" "$http_bin" --port "$http" --paths "$paths" --seconds "$secs" \
    --warmup 0 --concurrency "$http_clients" >"$dir/logs/$tag-http.log" 2>&1 &
  pids+=($!)
  timeout -k 10 "$limit" "$mllp_bin" --port "$mllp" --seconds "$secs" \
    --connections "$hl7_streams" --prefix "$prefix" --days 200 >"$dir/logs/$tag-hl7.log" 2>&1 &
  pids+=($!)
  client_pids=("${pids[@]}")
  for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    # 2: the tool ran and counted errors (they are in its figures); anything else: it did not run.
    if ((rc != 0 && rc != 2)) || [[ -z "$(op_lines "$dir/logs/$tag-${names[$i]}.log")" ]]; then
      failed+=("${names[$i]} (exit $rc)")
    fi
  done
  client_pids=()
  if ((${#failed[@]})); then
    for i in "${names[@]}"; do show_client_log "$dir/logs/$tag-$i.log"; done
    show_server_log
    die "$tag: clients failed: ${failed[*]}"
  fi
}

run_load() {
  local target=$1 db=sqlite url="" pid
  # Read by mixed_traffic.
  dir=$work/run port=$(free_port) http=$(free_port) mllp=$(free_port)
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  if [[ "$target" == pacsnode/postgres ]]; then
    url=$(pg_create_db load)
    db=$url
  fi
  # --max-associations stays at its default (32): the 16 associations fit.
  start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" "$db" --http-port "$http" \
    --mllp-port "$mllp" --log-level warn
  wait_for_echo PACSNODE "$port"
  pid=$server_pid
  [[ "$(cat "/proc/$pid/comm")" == pacsnode ]] || die "pid $pid is not the node"

  echo "$bench_name: $target: preloading $preload_count instances" >&2
  run_client "$dir/logs/preload.log" 600 storescu -aec PACSNODE +sd +r 127.0.0.1 "$port" "$preload" ||
    { show_client_log "$dir/logs/preload.log"; die "preload failed"; }

  # Warm-up: the same mix for 15 s, so that what the node keeps once it has seen this traffic is
  # there before the "before" figures and the comparison after the load shows growth, not the
  # warm-up: above all the index's pooled connections (up to 16 idle ones are kept, 2 fds each on
  # SQLite), which 5 s of this mix did not always bring to their cap and 10 s did.
  echo "$bench_name: $target: warming up for $warm_seconds s with the same mix" >&2
  mixed_traffic "$warm_seconds" warm 1 W
  local kind warm_errors=0 warm_stores warm_orders
  for kind in store http hl7; do
    while read -r line; do
      warm_errors=$((warm_errors + $(op_field "$line" errors)))
    done < <(op_lines "$dir/logs/warm-$kind.log")
  done
  if ((warm_errors)); then
    for kind in store http hl7; do show_client_log "$dir/logs/warm-$kind.log"; done
    show_server_log
    die "$target: $warm_errors errors during the warm-up"
  fi
  warm_stores=$(op_field "$(op_lines "$dir/logs/warm-store.log")" count)
  warm_orders=$(op_field "$(op_lines "$dir/logs/warm-hl7.log")" count)
  sleep 2 # the warm-up's connections close

  local rss_before threads_before fds_before hwm_reset=0
  rss_before=$(proc_field "$pid" VmRSS)
  threads_before=$(proc_field "$pid" Threads)
  fds_before=$(proc_fds "$pid")
  local name=${target#pacsnode/}
  fd_list "$pid" >"$out/load-fds-before-$name.txt"
  # Writing 5 to clear_refs resets VmHWM to the current RSS: the peak then is the load's.
  if echo 5 2>/dev/null >"/proc/$pid/clear_refs"; then hwm_reset=1; fi

  echo "$bench_name: $target: load for $seconds s: $stores associations storing, $http_clients HTTP clients, $hl7_streams HL7 stream" >&2
  local samples=$dir/samples.tsv sampler
  : >"$samples"
  touch "$work/sampling"
  sample_node "$pid" "$samples" $((seconds + 180)) &
  sampler=$!
  local cpu_node cpu_machine
  cpu_node=$(proc_cpu "$pid")
  cpu_machine=$(machine_cpu)
  mixed_traffic "$seconds" load 2 L
  cpu_node+=$'\t'$(proc_cpu "$pid")
  cpu_machine+=$'\t'$(machine_cpu)
  rm -f "$work/sampling"
  wait "$sampler" || true
  alive "$pid" || { show_server_log; die "the node died during the load"; }

  # After: the clients are gone; idle connections and associations close, their threads end.
  local rss_after threads_after fds_after hwm deadline=$((SECONDS + settle_seconds))
  while :; do
    threads_after=$(proc_field "$pid" Threads)
    fds_after=$(proc_fds "$pid")
    if ((threads_after <= threads_before && fds_after <= fds_before)) || ((SECONDS >= deadline)); then
      break
    fi
    sleep 0.5
  done
  rss_after=$(proc_field "$pid" VmRSS)
  fd_list "$pid" >"$out/load-fds-after-$name.txt"
  hwm=$(proc_field "$pid" VmHWM)

  # Everything acknowledged is in the index.
  local stored hl7_ok
  stored=$(op_field "$(op_lines "$dir/logs/load-store.log")" count)
  hl7_ok=$(op_field "$(op_lines "$dir/logs/load-hl7.log")" count)
  local expected=$((preload_count + warm_stores + stored))
  if [[ "$target" == pacsnode/sqlite ]]; then
    verify_count "$target" "$expected" "the load" count_pacsnode_sqlite "$dir/data"
  else
    verify_count "$target" "$expected" "the load" count_pacsnode_postgres "$url"
  fi
  local orders
  orders=$(count_orders "$target" "$dir/data" "$url") || die "cannot count the orders"
  ((orders == warm_orders + hl7_ok)) ||
    die "$target holds $orders orders after the load, expected $((warm_orders + hl7_ok))"
  local warnings
  warnings=$(grep -ciE 'warn|error' "$dir/logs/server.log" || true)
  cp "$dir/logs/server.log" "$out/load-server-${target#pacsnode/}.log"

  {
    printf 'target\t%s\n' "$target"
    op_lines "$dir/logs/load-store.log"
    op_lines "$dir/logs/load-http.log"
    op_lines "$dir/logs/load-hl7.log"
    printf 'node\trss_kb\t%s\t%s\n' "$rss_before" "$rss_after"
    printf 'node\thwm_kb\t%s\t%s\n' "$hwm" "$hwm_reset"
    printf 'node\tthreads\t%s\t%s\n' "$threads_before" "$threads_after"
    printf 'node\tfds\t%s\t%s\n' "$fds_before" "$fds_after"
    # Node ticks before, after; machine busy and total ticks before, after.
    printf 'node\tcpu\t%s\t%s\n' "$cpu_node" "$cpu_machine"
    printf 'node\tlog_warnings\t%s\n' "$warnings"
    printf 'node\tinstances\t%s\n' "$received"
    printf 'node\torders\t%s\n' "$orders"
  } >"$dir/figures.txt"
  cp "$samples" "$out/load-samples-$name.tsv"
  cp "$dir/figures.txt" "$out/load-figures-$name.txt"
  local rev
  rev=$(git -C "$repo" rev-parse --short HEAD)
  if ! python3 - "$dir/figures.txt" "$samples" "$seconds" "$rev" "$max_rss_mb" \
    "$out/load-fds-before-$name.txt" "$out/load-fds-after-$name.txt" <<'PY' | tee -a "$out/load-summary.txt"; then
import sys
figures, samples, seconds, rev, max_rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
fd_lists = sys.argv[6:8]
ops, node, target = {}, {}, "?"
for line in open(figures):
    line = line.rstrip("\n")
    if line.startswith("op="):
        f = dict(kv.split("=", 1) for kv in line.split())
        ops[f["op"]] = f
    elif line.startswith("target\t"):
        target = line.split("\t")[1]
    else:
        _, key, *vals = line.split("\t")
        node[key] = vals
# Samples: elapsed s, RSS kB, threads, fds.
rows = [[float(x) for x in line.split("\t")] for line in open(samples) if line.strip()]
print(f"load: {seconds} s, {target}, 127.0.0.1: 16 DICOM associations, 64 HTTP connections and 1 MLLP stream at once; git {rev}")
print(f"  {'operation':12}{'count':>9}{'ops/s':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
names = [("store", "C-STORE"), ("qido", "QIDO-RS"), ("metadata", "metadata"), ("wado", "WADO-RS"), ("hl7", "HL7 ORM")]
for key, name in names:
    f = ops[key]
    print(f"  {name:12}{int(f['count']):9d}{float(f['per_s']):9.1f}{int(f['errors']):8d}"
          f"{float(f['p50_ms']):9.2f}{float(f['p99_ms']):9.2f}{float(f['max_ms']):9.1f}")
mb = lambda kb: float(kb) / 1024
before = {k: int(node[k][0]) for k in ("rss_kb", "threads", "fds")}
after = {k: int(node[k][1]) for k in ("rss_kb", "threads", "fds")}
# The peak: the kernel's VmHWM (reset after the warm-up when clear_refs allowed it), or the
# largest sampled RSS if that is higher; threads and fds: the largest sampled.
peak = {
    "rss_kb": max([int(node["hwm_kb"][0])] + [r[1] for r in rows]),
    "threads": max([after["threads"]] + [r[2] for r in rows]),
    "fds": max([after["fds"]] + [r[3] for r in rows]),
}
hwm_note = "VmHWM since the warm-up" if node["hwm_kb"][1] == "1" else "VmHWM since start: clear_refs refused"
print(f"  {'node':12}{'before':>9}{'peak':>9}{'after':>9}")
print(f"  {'RSS MB':12}{mb(before['rss_kb']):9.0f}{mb(peak['rss_kb']):9.0f}{mb(after['rss_kb']):9.0f}   (peak: {hwm_note})")
for key in ("threads", "fds"):
    print(f"  {key:12}{before[key]:9d}{int(peak[key]):9d}{after[key]:9d}   (peak: sampled every 0.25 s)")
if rows:
    quarter = []
    for q in (0.25, 0.5, 0.75, 1.0):
        upto = [r for r in rows if r[0] <= q * seconds] or rows[:1]
        quarter.append(f"{mb(upto[-1][1]):.0f}")
    print(f"  RSS during the load (MB at 25/50/75/100% of it): {' / '.join(quarter)}")
cpu = [int(x) for x in node["cpu"]]
node_ticks, busy, total = cpu[1] - cpu[0], cpu[4] - cpu[2], cpu[5] - cpu[3]
if total > 0:
    others = "the clients, PostgreSQL" if "postgres" in target else "the clients"
    print(f"  CPU during the load (all cores = 100%): {100 * busy / total:.0f}% busy, the node "
          f"{100 * node_ticks / total:.0f}%, {others} and the rest of the kernel the remainder")
def fd_kinds(listing):
    kinds = {"index files": 0, "sockets": 0, "other": 0}
    for line in open(listing):
        target = line.rstrip("\n").split("\t", 1)[-1]
        kind = ("index files" if "/index.sqlite" in target else
                "sockets" if target.startswith("socket:") else "other")
        kinds[kind] += 1
    return kinds
kb, ka = (fd_kinds(f) for f in fd_lists)
print("  fds by kind, before -> after: " + ", ".join(f"{k} {kb[k]} -> {ka[k]}" for k in kb))
print(f"  node log warning/error lines: {node['log_warnings'][0]}; index after: "
      f"{node['instances'][0]} instances, {node['orders'][0]} orders (every acknowledged one)")
errors = sum(int(ops[k]["errors"]) for k, _ in names)
problems = []
if errors: problems.append(f"{errors} errors")
if after["threads"] > before["threads"]: problems.append("threads leaked (more after than before)")
# The SQLite index's connection pool keeps up to 16 idle connections (storage/sql_index.cpp), each
# with the database, its WAL and its shared memory open: index files may grow up to that bound as
# the pool fills (a warm-up does not always fill it); sockets and other files may not grow at all.
index_fd_bound = 16 * 3
if (ka["sockets"] > kb["sockets"] or ka["other"] > kb["other"] or
        ka["index files"] > max(kb["index files"], index_fd_bound)):
    problems.append("file descriptors leaked (more after than before, beyond the index's pool)")
if mb(peak["rss_kb"]) > max_rss: problems.append(f"peak RSS above {max_rss} MB")
print("  verdict: " + ("FAIL: " + ", ".join(problems) if problems else
                      "pass (no errors, no fd or thread leak, RSS bounded)"))
sys.exit(1 if problems else 0)
PY
    verdict=1
  fi
}

: >"$out/load-summary.txt"
verdict=0
for target in "${targets[@]}"; do
  run_load "$target"
  stop_server
done
((verdict == 0)) || die "the load run found problems (see $out/load-summary.txt)"
