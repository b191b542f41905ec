#!/usr/bin/env bash
# Ingest benchmark: C-STORE throughput of a synthetic CT corpus sent with DCMTK storescu, over one
# association and over 4 parallel ones, into pacsnode (SQLite index), pacsnode (PostgreSQL index),
# Orthanc and DCMTK storescp (plain files, no index, no fsync: the ceiling). Every target starts
# fresh for every run (free loopback port, empty data dir), every run is checked to have stored
# every instance, targets alternate within each round, and the summary shows medians.
#
#   scripts/bench/ingest.sh [--no-setup] [--instances-per-series N] [--runs N] [--out DIR]
#                           [--targets LIST]
#
# Writes OUT/ingest-runs.jsonl (one line per run) and OUT/ingest-summary.txt (the table).
set -euo pipefail
export LC_ALL=C
# DCMTK tools and Orthanc read this to disable Nagle on their sockets; pacsnode does so itself.
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=ingest
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/ingest.sh [flags]
  --no-setup                 do not run scripts/setup.sh bench first
  --instances-per-series N   corpus size: 4 patients x 1 study x 5 series x N (default 100)
  --runs N                   runs per target and mode; the table shows medians (default 3)
  --out DIR                  results directory (default bench-out/ in the repository)
  --targets LIST             comma-separated subset of
                             pacsnode/sqlite,pacsnode/postgres,orthanc,storescp (default all)
EOF
}

# ---- arguments
setup=1
patients=4 studies=1 series=5 per_series=100 rows=512 columns=512
runs=3
parallel=4
out=""
all_targets=(pacsnode/sqlite pacsnode/postgres orthanc storescp)
targets_arg=$(
  IFS=,
  echo "${all_targets[*]}"
)
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --instances-per-series | --runs | --out | --targets)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --instances-per-series) per_series=$2 ;;
        --runs) runs=$2 ;;
        --out) out=$2 ;;
        --targets) targets_arg=$2 ;;
      esac
      shift
      ;;
    --instances-per-series=*) per_series=${1#*=} ;;
    --runs=*) runs=${1#*=} ;;
    --out=*) out=${1#*=} ;;
    --targets=*) targets_arg=${1#*=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument '$1'"
      ;;
  esac
  shift
done
is_count "$per_series" || die "--instances-per-series: '$per_series' is not a positive number"
is_count "$runs" || die "--runs: '$runs' is not a positive number"
parse_targets "$targets_arg"

# ---- prerequisites
bench_prepare "$setup"
ensure_built "pacsnode pacsnode-gencorpus" "$pacsnode_bin" "$gencorpus_bin"
require_tools storescu echoscu python3 setsid timeout
require_target_tools

# ---- state and cleanup: whatever runs is stopped on exit, on success and on failure alike
bench_begin

# ---- the corpus, cached by its parameters
corpus_key="ct-${rows}x${columns}-p${patients}-st${studies}-se${series}-i${per_series}-explicit-seed1"
corpus_root=$repo/build/bench-corpus/$corpus_key
corpus=$corpus_root/dicom
expected=$((patients * studies * series * per_series))
make_corpus "$corpus_key" "$expected instances into $corpus_root" --patients "$patients" \
  --studies "$studies" --series "$series" --instances "$per_series" --rows "$rows" \
  --columns "$columns" --seed 1
mapfile -t files < <(find "$corpus" -type f -name '*.dcm' | sort -V)
((${#files[@]} == expected)) ||
  die "corpus $corpus has ${#files[@]} files, expected $expected (delete it to regenerate)"
corpus_bytes=$(find "$corpus" -type f -name '*.dcm' -printf '%s\n' | awk '{s += $1} END {print s}')
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN {printf "%.0f", b / 1e6}')

# ---- one run
# Sends the corpus to AET at PORT over N associations; sets `elapsed` (seconds).
elapsed=""
send_corpus() {
  local aet=$1 port=$2 n=$3 logdir=$4 client_deadline=$((120 + expected / 2))
  local t0 t1 i start len pid failed=0
  client_pids=()
  t0=$EPOCHREALTIME
  if ((n == 1)); then
    timeout -k 10 "$client_deadline" storescu -aec "$aet" +sd +r 127.0.0.1 "$port" "$corpus" \
      >"$logdir/storescu-1.log" 2>&1 &
    client_pids+=($!)
  else
    # n contiguous groups of (nearly) equal size, one storescu each, all started at once.
    local total=${#files[@]}
    for ((i = 0; i < n; i++)); do
      start=$((total * i / n))
      len=$((total * (i + 1) / n - start))
      timeout -k 10 "$client_deadline" storescu -aec "$aet" 127.0.0.1 "$port" \
        "${files[@]:start:len}" >"$logdir/storescu-$((i + 1)).log" 2>&1 &
      client_pids+=($!)
    done
  fi
  for pid in "${client_pids[@]}"; do
    if ! wait "$pid"; then failed=1; fi
  done
  t1=$EPOCHREALTIME
  client_pids=()
  if ((failed)); then
    local f
    for f in "$logdir"/storescu-*.log; do show_client_log "$f"; done
    show_server_log
    die "storescu failed against $aet (exit status above; timeout after ${client_deadline} s)"
  fi
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
}

git_rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
results=$work/results.tsv # target, associations, seconds
: >"$results"
mkdir -p "$out"
runs_jsonl=$out/ingest-runs.jsonl
: >"$runs_jsonl"

run_one() {
  local round=$1 target=$2 n=$3
  local dir=$work/run port load url="" http="" db="" aet=""
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  sync # the previous run's dirty pages are not this run's cost
  port=$(free_port)
  case "$target" in
    pacsnode/sqlite | pacsnode/postgres)
      local dbflag=sqlite
      if [[ "$target" == pacsnode/postgres ]]; then
        db=ingest_r${round}_a${n}
        url=$(pg_create_db "$db")
        dbflag=$url
      fi
      start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" "$dbflag"
      wait_for_echo PACSNODE "$port"
      aet=PACSNODE
      ;;
    orthanc)
      http=$(free_port)
      start_orthanc "$dir" "$port" "$http"
      wait_for_echo ORTHANC "$port"
      aet=ORTHANC
      ;;
    storescp)
      # --fork: one process per association, else storescp serves associations one at a time.
      start_server "$dir/logs/server.log" storescp --fork --output-directory "$dir/data" \
        -aet STORESCP "$port"
      wait_for_echo STORESCP "$port"
      aet=STORESCP
      ;;
  esac

  load=$(cut -d' ' -f1 /proc/loadavg)
  send_corpus "$aet" "$port" "$n" "$dir/logs"

  case "$target" in
    pacsnode/sqlite) verify_count "$target" "$expected" "the run" count_pacsnode_sqlite "$dir/data" ;;
    pacsnode/postgres) verify_count "$target" "$expected" "the run" count_pacsnode_postgres "$url" ;;
    orthanc) verify_count "$target" "$expected" "the run" count_orthanc "$http" ;;
    storescp) verify_count "$target" "$expected" "the run" count_files "$dir/data" ;;
  esac
  stop_server
  if [[ -n "$db" ]]; then pg_drop_db "$db"; fi

  local ips mbs
  ips=$(awk -v n="$expected" -v s="$elapsed" 'BEGIN {printf "%.1f", n / s}')
  mbs=$(awk -v b="$corpus_bytes" -v s="$elapsed" 'BEGIN {printf "%.1f", b / 1e6 / s}')
  printf '%s\t%s\t%s\n' "$target" "$n" "$elapsed" >>"$results"
  printf '{"time":"%s","round":%d,"target":"%s","associations":%d,"instances":%d,"bytes":%d,"seconds":%s,"inst_per_s":%s,"mb_per_s":%s,"received":%d,"loadavg_1m_before":%s,"corpus":"%s","git":"%s","tcp_nodelay":1}\n' \
    "$(now)" "$round" "$target" "$n" "$expected" "$corpus_bytes" \
    "$elapsed" "$ips" "$mbs" "$received" "$load" "$corpus_key" "$git_rev" >>"$runs_jsonl"
  printf 'ingest: round %d/%d  %-18s %d assoc  %6.2f s  %7.1f inst/s  %6.1f MB/s  (load %s)\n' \
    "$round" "$runs" "$target" "$n" "$elapsed" "$ips" "$mbs" "$load" >&2
  rm -rf "$dir"
}

# ---- the rounds
pg_start_if_needed
echo "ingest: $expected instances ($corpus_mb MB) from $corpus, $runs round(s), targets: ${targets[*]}" >&2
for ((round = 1; round <= runs; round++)); do
  for target in "${targets[@]}"; do
    run_one "$round" "$target" 1
    run_one "$round" "$target" "$parallel"
  done
done
if declare -F pg_stop >/dev/null; then pg_stop; fi

# ---- summary: medians of the durations, as instances/s and MB/s
median_seconds() { # target associations
  awk -F'\t' -v t="$1" -v n="$2" '$1 == t && $2 == n {print $3}' "$results" | median
}
declare -A med
for target in "${targets[@]}"; do
  for n in 1 "$parallel"; do med[$target,$n]=$(median_seconds "$target" "$n"); done
done
ips() { awk -v n="$expected" -v s="${med[$1,$2]}" 'BEGIN {printf "%.0f", n / s}'; }
mbs() { awk -v b="$corpus_bytes" -v s="${med[$1,$2]}" 'BEGIN {printf "%.0f", b / 1e6 / s}'; }
label() {
  case "$1" in
    storescp) echo "storescp (files)" ;;
    *) echo "$1" ;;
  esac
}
summary=$work/summary.txt
{
  printf 'ingest: %d instances of %dx%d 16-bit CT (%s MB), median of %d run%s, TCP_NODELAY=1\n' \
    "$expected" "$rows" "$columns" "$corpus_mb" "$runs" "$([[ $runs == 1 ]] || echo s)"
  printf '%23s%-24s%s\n' "" "1 assoc" "$parallel assoc"
  for target in "${targets[@]}"; do
    printf '  %-18s %5s inst/s %4s MB/s  %5s inst/s %4s MB/s\n' "$(label "$target")" \
      "$(ips "$target" 1)" "$(mbs "$target" 1)" "$(ips "$target" "$parallel")" \
      "$(mbs "$target" "$parallel")"
  done
  for node in pacsnode/sqlite pacsnode/postgres; do
    has_target "$node" || continue
    parts=()
    for peer in orthanc storescp; do
      has_target "$peer" || continue
      for n in 1 "$parallel"; do
        # A ratio of rates is the inverse ratio of durations.
        if [[ "$peer" == orthanc ]]; then
          parts+=("$(awk -v a="${med[$node,$n]}" -v b="${med[$peer,$n]}" 'BEGIN {printf "%.1f", b / a}')x orthanc ($n assoc)")
        else
          parts+=("$(awk -v a="${med[$node,$n]}" -v b="${med[$peer,$n]}" 'BEGIN {printf "%.0f", 100 * b / a}')% of storescp ($n assoc)")
        fi
      done
    done
    if ((${#parts[@]})); then
      line=$(printf '%s, ' "${parts[@]}")
      echo "ratios ($node): ${line%, }"
    fi
  done
  if ((runs > 1)); then
    echo "spread (slowest-fastest inst/s over $runs runs):"
    for target in "${targets[@]}"; do
      for n in 1 "$parallel"; do
        awk -F'\t' -v t="$target" -v n="$n" -v c="$expected" '
          $1 == t && $2 == n {r = c / $3; if (!lo || r < lo) lo = r; if (r > hi) hi = r}
          END {printf "  %-18s %d assoc  %.0f-%.0f (%.0f%%)\n", t, n, lo, hi, 100 * (hi - lo) / lo}' \
          "$results"
      done
    done
  fi
  echo "git $git_rev, $(nproc) cores, runs in $runs_jsonl"
} >"$summary"
cp "$summary" "$out/ingest-summary.txt"
cat "$summary"
