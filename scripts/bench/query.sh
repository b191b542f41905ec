#!/usr/bin/env bash
# Query/retrieve benchmark, in one run:
#  - C-FIND latency: the same synthetic corpus (about 2,000 small studies, plus the C-MOVE study)
#    is stored with storescu into pacsnode (SQLite index), pacsnode (PostgreSQL index), Orthanc and
#    DCMTK dcmqrscp; then pacsnode-find-timer runs three study-level queries over one association
#    each (by PatientID, by a StudyDate range holding ~3% of the studies, by a PatientName prefix
#    matching a few patients): warm-up queries, then N timed ones; median and p95 per target.
#  - C-MOVE throughput: one study of 200 512x512 CT instances moved with movescu (Study Root) to a
#    DCMTK storescp destination configured as a peer of the target; every move is checked to have
#    delivered every instance. The destination writes to tmpfs (/dev/shm) where there is one, so
#    that what it costs does not depend on the disk's history (see dest_root below).
#  - Scaling: fresh pacsnode indexes (SQLite and PostgreSQL) filled with pacsnode-genindex to
#    100,000 studies, then three C-FIND queries matching a handful of studies each.
# Every target starts fresh for every round (free loopback port, empty data dir), targets alternate
# within each round, every query's match count is checked against the corpus, and the summary shows
# medians.
#
#   scripts/bench/query.sh [--no-setup] [--runs N] [--out DIR] [--targets LIST] [--patients N]
#                          [--move-instances N] [--queries N] [--scale-studies N]
#
# Writes OUT/query-runs.jsonl (one line per measurement) and OUT/query-summary.txt (the table).
# dcmqrscp keeps at most 500 studies per AE (a DCMTK compile-time limit; beyond it, it deletes the
# oldest study), so it gets the first 499 studies of the find corpus plus the move study, and its
# C-FIND figures are over that smaller set.
set -euo pipefail
export LC_ALL=C
# DCMTK tools and Orthanc read this to disable Nagle on their sockets; pacsnode does so itself.
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=query
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/query.sh [flags]
  --no-setup            do not run scripts/setup.sh bench first
  --runs N              rounds; the table shows medians (default 3)
  --out DIR             results directory (default bench-out/ in the repository)
  --targets LIST        comma-separated subset of
                        pacsnode/sqlite,pacsnode/postgres,orthanc,dcmqrscp (default all)
  --patients N          find corpus: N patients x 3 studies x 1 instance of 64x64 CT (default 667)
  --move-instances N    instances in the moved study, 512x512 CT (default 200)
  --queries N           timed C-FIND queries per measurement, after 5 warm-up ones (default 50)
  --scale-studies N     studies pacsnode-genindex puts in the scaling indexes; 0 skips the
                        scaling run (default 100000)
Environment: PACSNODE_FIND_TIMER names a pacsnode-find-timer binary to use instead of
build/tests/pacsnode-find-timer.
EOF
}

# ---- arguments
setup=1
runs=3
out=""
patients=667 studies_per_patient=3
move_instances=200
queries=50
warmup=5
moves_per_run=5
scale_studies=100000
dcmqrscp_max_studies=500 # DB_UpperMaxStudies in DCMTK's dcmqrdb
all_targets=(pacsnode/sqlite pacsnode/postgres orthanc dcmqrscp)
targets_arg=$(
  IFS=,
  echo "${all_targets[*]}"
)
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --runs | --out | --targets | --patients | --move-instances | --queries | --scale-studies)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --runs) runs=$2 ;;
        --out) out=$2 ;;
        --targets) targets_arg=$2 ;;
        --patients) patients=$2 ;;
        --move-instances) move_instances=$2 ;;
        --queries) queries=$2 ;;
        --scale-studies) scale_studies=$2 ;;
      esac
      shift
      ;;
    --runs=*) runs=${1#*=} ;;
    --out=*) out=${1#*=} ;;
    --targets=*) targets_arg=${1#*=} ;;
    --patients=*) patients=${1#*=} ;;
    --move-instances=*) move_instances=${1#*=} ;;
    --queries=*) queries=${1#*=} ;;
    --scale-studies=*) scale_studies=${1#*=} ;;
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
is_count "$runs" || die "--runs: '$runs' is not a positive number"
is_count "$patients" || die "--patients: '$patients' is not a positive number"
((patients <= 1000)) || die "--patients: at most 1000 (pacsnode-gencorpus)"
is_count "$move_instances" || die "--move-instances: '$move_instances' is not a positive number"
is_count "$queries" || die "--queries: '$queries' is not a positive number"
[[ "$scale_studies" == 0 ]] || is_count "$scale_studies" ||
  die "--scale-studies: '$scale_studies' is not a number"
parse_targets "$targets_arg"

# ---- prerequisites
bench_prepare "$setup"
genindex_bin=$repo/build/tests/pacsnode-genindex
timer_bin=${PACSNODE_FIND_TIMER:-$repo/build/tests/pacsnode-find-timer}
ensure_built "pacsnode pacsnode-gencorpus pacsnode-genindex pacsnode-find-timer" \
  "$pacsnode_bin" "$gencorpus_bin" "$genindex_bin" "$timer_bin"
require_tools storescu storescp movescu echoscu dcmdump python3 setsid timeout
require_target_tools

# ---- state and cleanup: whatever runs is stopped on exit, on success and on failure alike
dest_pid="" # the storescp that receives C-MOVE sub-operations (own process group too)
stop_dest() {
  local pid=$dest_pid
  dest_pid=""
  stop_group "$pid"
}
bench_on_exit() {
  stop_dest
  if [[ -n "$dest_root" ]]; then rm -rf "$dest_root"; fi
}
dest_root=""
bench_begin
# Where the C-MOVE destination writes. A move's time includes the destination creating 200 files.
# On a disk whose ext4 has no journal (as on the CI machine), creating a file scans past every inode
# freed in the last minute or more (ext4 will not reuse them that soon), so the bench's own
# deletions made the destination slower move after move and round after round, by up to half,
# whatever the target. On tmpfs its cost stays the same for every target.
if [[ -d /dev/shm && -w /dev/shm ]]; then
  dest_root=$(mktemp -d /dev/shm/pacsnode-bench-dest.XXXXXX)
else
  dest_root=$(mktemp -d "$work/dest.XXXXXX")
fi

# ---- the corpora, cached by their parameters
# Writes FILE: one line per input file, tab-separated: path, PatientID, PatientName, StudyDate,
# StudyInstanceUID (what dcmdump reads back from the files gencorpus wrote).
read_study_keys() {
  local list=$1 dest=$2
  xargs -d '\n' dcmdump -q +F -s +P PatientID +P PatientName +P StudyDate +P StudyInstanceUID \
    <"$list" | awk '
      function value(line) { sub(/^[^[]*\[/, "", line); sub(/\].*$/, "", line); return line }
      function flush() { if (file != "") print file "\t" pid "\t" name "\t" date "\t" uid }
      /^# dcmdump/ { flush(); file = $0; sub(/^# dcmdump \([0-9]+\/[0-9]+\): /, "", file)
                     pid = name = date = uid = ""; next }
      /PatientID$/ { pid = value($0) }
      /PatientName$/ { name = value($0) }
      /StudyDate$/ { date = value($0) }
      /StudyInstanceUID$/ { uid = value($0) }
      END { flush() }' >"$dest"
}

# The find corpus: patients x 3 studies x 1 series x 1 instance, 64x64 (seed 1).
find_key="ct-64x64-p${patients}-st${studies_per_patient}-se1-i1-explicit-seed1"
make_corpus "$find_key" "corpus $find_key" --patients "$patients" \
  --studies "$studies_per_patient" --series 1 --instances 1 --rows 64 --columns 64 --seed 1
find_corpus=$repo/build/bench-corpus/$find_key/dicom
find_studies=$((patients * studies_per_patient))
# The move corpus: one study of move_instances 512x512 instances (seed 2: other UIDs and IDs).
move_key="ct-512x512-p1-st1-se1-i${move_instances}-explicit-seed2"
make_corpus "$move_key" "corpus $move_key" --patients 1 --studies 1 --series 1 \
  --instances "$move_instances" --seed 2
move_corpus=$repo/build/bench-corpus/$move_key/dicom

find "$find_corpus" -type f -name '*.dcm' | sort -V >"$work/find-files"
find "$move_corpus" -type f -name '*.dcm' | sort -V >"$work/move-files"
(($(wc -l <"$work/find-files") == find_studies)) ||
  die "corpus $find_corpus does not hold $find_studies files (delete it to regenerate)"
(($(wc -l <"$work/move-files") == move_instances)) ||
  die "corpus $move_corpus does not hold $move_instances files (delete it to regenerate)"
move_bytes=$(xargs -d '\n' stat -c %s <"$work/move-files" | awk '{s += $1} END {print s}')
move_mb=$(awk -v b="$move_bytes" 'BEGIN {printf "%.0f", b / 1e6}')

# Study keys of every find study, and of the move study (one line: its first instance).
read_study_keys "$work/find-files" "$work/find-studies.tsv"
head -n 1 "$work/move-files" >"$work/move-first"
read_study_keys "$work/move-first" "$work/move-study.tsv"
(($(wc -l <"$work/find-studies.tsv") == find_studies)) || die "dcmdump did not read every study"
move_study_uid=$(cut -f5 "$work/move-study.tsv")
[[ -n "$move_study_uid" ]] || die "no StudyInstanceUID in $(cat "$work/move-first")"

# What each target holds: the whole find corpus plus the move study; dcmqrscp only as many whole
# patients as fit next to the move study under its 500-study limit.
cat "$work/find-studies.tsv" "$work/move-study.tsv" >"$work/held-full.tsv"
qr_studies=$(((dcmqrscp_max_studies - 1) / studies_per_patient * studies_per_patient))
((qr_studies > find_studies)) && qr_studies=$find_studies
{
  head -n "$qr_studies" "$work/find-studies.tsv"
  cat "$work/move-study.tsv"
} >"$work/held-dcmqrscp.tsv"
cat "$work/find-files" "$work/move-files" >"$work/load-full"
{
  head -n "$qr_studies" "$work/find-files"
  cat "$work/move-files"
} >"$work/load-dcmqrscp"

# The three queries, chosen from the corpus: the patient in the middle of what every target holds;
# the StudyDate range from the 40th to the 43rd percentile of the study dates (~3% of the studies);
# the family name and first digit of patient 1 as a prefix (Doe1*: Doe1, Doe17, Doe105, ...).
q_names=(patient_id date_range name_prefix)
declare -A q_label=([patient_id]=PatientID [date_range]="StudyDate range" [name_prefix]="PatientName prefix")
q_pid=$(awk -F'\t' -v r=$((qr_studies / 2 + 1)) 'NR == r {print $2}' "$work/find-studies.tsv")
mapfile -t sorted_dates < <(cut -f4 "$work/find-studies.tsv" | sort)
q_date_lo=${sorted_dates[$((find_studies * 40 / 100))]}
q_date_hi=${sorted_dates[$((find_studies * 43 / 100))]}
q_name_prefix=$(head -n 1 "$work/find-studies.tsv" | cut -f3 | sed -E 's/^([^0-9^]*[0-9]).*/\1/')
declare -A q_key=(
  [patient_id]="PatientID=$q_pid"
  [date_range]="StudyDate=$q_date_lo-$q_date_hi"
  [name_prefix]="PatientName=$q_name_prefix*"
)

# Expected matches of query Q over the studies in TSV (DICOM matching: exact, inclusive range,
# case-sensitive prefix; every value here is plain ASCII).
expected_matches() {
  local q=$1 tsv=$2
  case "$q" in
    patient_id) awk -F'\t' -v v="$q_pid" '$2 == v {n++} END {print n + 0}' "$tsv" ;;
    date_range) awk -F'\t' -v lo="$q_date_lo" -v hi="$q_date_hi" \
      '$4 >= lo && $4 <= hi {n++} END {print n + 0}' "$tsv" ;;
    name_prefix) awk -F'\t' -v p="$q_name_prefix" \
      'substr($3, 1, length(p)) == p {n++} END {print n + 0}' "$tsv" ;;
  esac
}
declare -A expect
for q in "${q_names[@]}"; do
  expect[full,$q]=$(expected_matches "$q" "$work/held-full.tsv")
  expect[dcmqrscp,$q]=$(expected_matches "$q" "$work/held-dcmqrscp.tsv")
  ((expect[full,$q] > 0 && expect[dcmqrscp,$q] > 0)) ||
    die "query ${q_key[$q]} matches nothing in the corpus"
done

# The scaling queries: pacsnode-genindex gives study n (1..N) to patient n/3, PatientID GEN<n/3>,
# PatientName <family[p % 15]><p>^<given>, StudyDate (2000 + n%26)(1 + n%12)(1 + n%28). Each date
# holds ~N/1092 studies; this 10-day range holds exactly one of them (March is the only month of
# the two with dates in 2010; days run 1..28). Smith222* matches Smith222x (x ≡ 2 mod 15) and
# Smith2222, Smith222xx: 8 patients, 24 studies at N = 100,000.
s_pid=GEN1234 s_date_lo=20100325 s_date_hi=20100403 s_name_prefix=Smith222
declare -A s_key=(
  [patient_id]="PatientID=$s_pid"
  [date_range]="StudyDate=$s_date_lo-$s_date_hi"
  [name_prefix]="PatientName=$s_name_prefix*"
)
if ((scale_studies > 0)); then
  read -r s_expect_pid s_expect_date s_expect_name < <(
    awk -v N="$scale_studies" -v id="$s_pid" -v lo="$s_date_lo" -v hi="$s_date_hi" \
      -v pre="$s_name_prefix" 'BEGIN {
        split("Doe Roe Smith Jones Brown Garcia Miller Davis Wilson Moore Taylor Anderson Thomas Jackson White", fam, " ")
        for (n = 1; n <= N; n++) {
          p = int(n / 3)
          if ("GEN" p == id) a++
          d = sprintf("%04d%02d%02d", 2000 + n % 26, 1 + n % 12, 1 + n % 28)
          if (d >= lo && d <= hi) b++
          if (substr(fam[p % 15 + 1] p, 1, length(pre)) == pre) c++
        }
        print a + 0, b + 0, c + 0
      }')
  declare -A s_expect=([patient_id]=$s_expect_pid [date_range]=$s_expect_date [name_prefix]=$s_expect_name)
fi

# ---- measurement helpers
git_rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
find_results=$work/find.tsv   # phase, target, query, median_ms, p95_ms, matches
move_results=$work/move.tsv   # target, seconds
load_results=$work/load.tsv   # target, seconds, instances
: >"$find_results"
: >"$move_results"
: >"$load_results"
mkdir -p "$out"
runs_jsonl=$out/query-runs.jsonl
: >"$runs_jsonl"

# Runs pacsnode-find-timer for query Q (key KEY) against AET at PORT; checks the match count is
# EXPECTED; records a line for PHASE.
time_query() {
  local phase=$1 round=$2 target=$3 aet=$4 port=$5 q=$6 key=$7 expected=$8 held=$9 logdir=${10}
  local log=$logdir/find-$q.log load line median p95 matches
  load=$(cut -d' ' -f1 /proc/loadavg)
  if ! run_client "$log" $((120 + queries)) "$timer_bin" --port "$port" --aec "$aet" \
    --count "$queries" --warmup "$warmup" --key "$key"; then
    show_client_log "$log"
    show_server_log
    die "pacsnode-find-timer failed against $target ($key)"
  fi
  line=$(grep -E '^median_ms=' "$log" | tail -n 1)
  [[ "$line" =~ ^median_ms=([0-9.]+)\ p95_ms=([0-9.]+)\ matches=([0-9]+)$ ]] ||
    die "unexpected pacsnode-find-timer output: $(cat "$log")"
  median=${BASH_REMATCH[1]} p95=${BASH_REMATCH[2]} matches=${BASH_REMATCH[3]}
  ((matches == expected)) ||
    die "$target returned $matches matches for $key, expected $expected ($phase)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$target" "$q" "$median" "$p95" "$matches" \
    >>"$find_results"
  printf '{"time":"%s","phase":"%s","round":%d,"target":"%s","query":"%s","key":"%s","studies":%d,"queries":%d,"warmup":%d,"median_ms":%s,"p95_ms":%s,"matches":%d,"loadavg_1m_before":%s,"git":"%s","tcp_nodelay":1}\n' \
    "$(now)" "$phase" "$round" "$target" "$q" "$key" "$held" "$queries" "$warmup" "$median" \
    "$p95" "$matches" "$load" "$git_rev" >>"$runs_jsonl"
  printf 'query: round %d/%d  %-6s %-18s %-36s median %7.3f ms  p95 %7.3f ms  %5d matches  (load %s)\n' \
    "$round" "$runs" "$phase" "$target" "$key" "$median" "$p95" "$matches" "$load" >&2
}

# Moves the move study from AET at PORT to the storescp in DESTDIR, moves_per_run times; checks
# that every instance arrived each time.
time_moves() {
  local round=$1 target=$2 aet=$3 port=$4 destdir=$5 logdir=$6
  local k t0 t1 seconds got load ips mbs
  for ((k = 1; k <= moves_per_run; k++)); do
    find "$destdir" -mindepth 1 -delete
    sync # the previous move's dirty pages are not this move's cost
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$EPOCHREALTIME
    if ! run_client "$logdir/movescu.log" $((60 + move_instances)) movescu -S -to 10 -ta 30 \
      -td 60 -aec "$aet" -aem DEST -k QueryRetrieveLevel=STUDY \
      -k StudyInstanceUID="$move_study_uid" 127.0.0.1 "$port"; then
      show_client_log "$logdir/movescu.log"
      show_server_log
      die "movescu failed against $target"
    fi
    t1=$EPOCHREALTIME
    # storescp writes each file before it acknowledges it, so all are there when movescu ends.
    got=$(count_files "$destdir")
    if ((got != move_instances)); then
      show_client_log "$logdir/movescu.log"
      show_server_log
      tail -n 20 "$logdir/dest.log" >&2
      die "the C-MOVE from $target delivered $got instances, expected $move_instances"
    fi
    seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
    ips=$(awk -v n="$move_instances" -v s="$seconds" 'BEGIN {printf "%.1f", n / s}')
    mbs=$(awk -v b="$move_bytes" -v s="$seconds" 'BEGIN {printf "%.1f", b / 1e6 / s}')
    printf '%s\t%s\n' "$target" "$seconds" >>"$move_results"
    printf '{"time":"%s","phase":"move","round":%d,"move":%d,"target":"%s","instances":%d,"bytes":%d,"seconds":%s,"inst_per_s":%s,"mb_per_s":%s,"received":%d,"loadavg_1m_before":%s,"corpus":"%s","git":"%s","tcp_nodelay":1}\n' \
      "$(now)" "$round" "$k" "$target" "$move_instances" "$move_bytes" "$seconds" "$ips" "$mbs" \
      "$got" "$load" "$move_key" "$git_rev" >>"$runs_jsonl"
    printf 'query: round %d/%d  move   %-18s move %d/%d  %6.3f s  %7.1f inst/s  %6.1f MB/s  (load %s)\n' \
      "$round" "$runs" "$target" "$k" "$moves_per_run" "$seconds" "$ips" "$mbs" "$load" >&2
  done
}

# ---- one round of one target: start fresh, load, C-FIND, C-MOVE, stop
run_one() {
  local round=$1 target=$2
  local dir=$work/run port dest_port url="" http="" db="" aet="" held_tsv=$work/held-full.tsv
  local load_list=$work/load-full ekey=full t0 t1 seconds n
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  find "$dest_root" -mindepth 1 -delete
  sync
  # The C-MOVE destination: a plain storescp, one association at a time, writing files.
  dest_port=$(free_port)
  setsid storescp -aet DEST --output-directory "$dest_root" "$dest_port" >"$dir/logs/dest.log" 2>&1 \
    </dev/null &
  dest_pid=$!
  port=$(free_port)
  case "$target" in
    pacsnode/sqlite | pacsnode/postgres)
      local dbflag=sqlite
      if [[ "$target" == pacsnode/postgres ]]; then
        db=query_r${round}
        url=$(pg_create_db "$db")
        dbflag=$url
      fi
      start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" "$dbflag" \
        --peer "DEST=127.0.0.1:$dest_port"
      aet=PACSNODE
      ;;
    orthanc)
      http=$(free_port)
      start_orthanc "$dir" "$port" "$http" '  "DicomAlwaysAllowFind": true,
  "DicomAlwaysAllowMove": true,
  "DicomAlwaysAllowGet": true,
  "DicomModalities": { "DEST": ["DEST", "127.0.0.1", '"$dest_port"'] }'
      aet=ORTHANC
      ;;
    dcmqrscp)
      # One AE whose storage area is the data dir; quota (studies, bytes per study): 500 studies
      # is DCMTK's maximum (more is cut to 500 with a warning); the oldest study is deleted when
      # a new one would exceed it. The HostTable names the move destination.
      cat >"$dir/dcmqrscp.cfg" <<EOF
NetworkTCPPort  = $port
MaxPDUSize      = 65536
MaxAssociations = 16

HostTable BEGIN
dest = (DEST, 127.0.0.1, $dest_port)
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
DCMQRSCP $dir/data RW ($dcmqrscp_max_studies, 1024mb) ANY
AETable END
EOF
      start_server "$dir/logs/server.log" dcmqrscp -c "$dir/dcmqrscp.cfg" "$port"
      aet=DCMQRSCP
      held_tsv=$work/held-dcmqrscp.tsv
      load_list=$work/load-dcmqrscp
      ekey=dcmqrscp
      ;;
  esac
  wait_for_echo DEST "$dest_port" "$dest_pid"
  wait_for_echo "$aet" "$port"

  # Load over one association (not timed for the comparison; recorded for information).
  local load_files
  mapfile -t load_files <"$load_list"
  n=${#load_files[@]}
  t0=$EPOCHREALTIME
  if ! run_client "$dir/logs/storescu.log" $((120 + n / 2)) storescu -aec "$aet" 127.0.0.1 \
    "$port" "${load_files[@]}"; then
    show_client_log "$dir/logs/storescu.log"
    show_server_log
    die "storescu failed against $target"
  fi
  t1=$EPOCHREALTIME
  case "$target" in
    pacsnode/sqlite) verify_count "$target" "$n" loading count_pacsnode_sqlite "$dir/data" ;;
    pacsnode/postgres) verify_count "$target" "$n" loading count_pacsnode_postgres "$url" ;;
    orthanc) verify_count "$target" "$n" loading count_orthanc "$http" ;;
    dcmqrscp) verify_count "$target" "$n" loading count_files "$dir/data" -maxdepth 1 -name '*.dcm' ;;
  esac
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
  printf '%s\t%s\t%s\n' "$target" "$seconds" "$n" >>"$load_results"
  printf '{"time":"%s","phase":"load","round":%d,"target":"%s","instances":%d,"studies":%d,"seconds":%s,"git":"%s","tcp_nodelay":1}\n' \
    "$(now)" "$round" "$target" "$n" "$(wc -l <"$held_tsv")" "$seconds" "$git_rev" >>"$runs_jsonl"
  printf 'query: round %d/%d  load   %-18s %d instances in %.2f s\n' "$round" "$runs" "$target" \
    "$n" "$seconds" >&2

  local q
  for q in "${q_names[@]}"; do
    time_query find "$round" "$target" "$aet" "$port" "$q" "${q_key[$q]}" "${expect[$ekey,$q]}" \
      "$(wc -l <"$held_tsv")" "$dir/logs"
  done
  time_moves "$round" "$target" "$aet" "$port" "$dest_root" "$dir/logs"

  stop_server
  stop_dest
  if [[ -n "$db" ]]; then pg_drop_db "$db"; fi
  rm -rf "$dir"
}

# ---- the scaling run: pacsnode-genindex fills a fresh index, then every round times the queries
scale_results=()
run_scale() {
  local target=$1
  local dir=$work/scale port db="" dbflag=sqlite t0 t1 round q
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  if [[ "$target" == pacsnode/postgres ]]; then
    db=query_scale
    dbflag=$(pg_create_db "$db")
  fi
  echo "query: scale  $target: pacsnode-genindex --studies $scale_studies" >&2
  t0=$EPOCHREALTIME
  if ! run_client "$dir/logs/genindex.log" 3600 "$genindex_bin" --data-dir "$dir/data" \
    --db "$dbflag" --studies "$scale_studies"; then
    show_client_log "$dir/logs/genindex.log"
    die "pacsnode-genindex failed ($target)"
  fi
  t1=$EPOCHREALTIME
  scale_results+=("$target $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')")
  sync
  port=$(free_port)
  start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" "$dbflag"
  wait_for_echo PACSNODE "$port"
  for ((round = 1; round <= runs; round++)); do
    for q in "${q_names[@]}"; do
      time_query scale "$round" "$target" PACSNODE "$port" "$q" "${s_key[$q]}" \
        "${s_expect[$q]}" "$scale_studies" "$dir/logs"
    done
  done
  stop_server
  if [[ -n "$db" ]]; then pg_drop_db "$db"; fi
  rm -rf "$dir"
}

# ---- the rounds
pg_start_if_needed
echo "query: find corpus $find_studies studies ($find_key), move study $move_instances instances ($move_mb MB), $runs round(s), targets: ${targets[*]}" >&2
echo "query: queries ${q_key[patient_id]} (${expect[full,patient_id]} matches), ${q_key[date_range]} (${expect[full,date_range]}), ${q_key[name_prefix]} (${expect[full,name_prefix]})" >&2
for ((round = 1; round <= runs; round++)); do
  for target in "${targets[@]}"; do
    run_one "$round" "$target"
  done
done
scale_targets=()
if ((scale_studies > 0)); then
  for target in pacsnode/sqlite pacsnode/postgres; do
    has_target "$target" || continue
    scale_targets+=("$target")
    run_scale "$target"
  done
fi
if declare -F pg_stop >/dev/null; then pg_stop; fi

# ---- summary
find_median() { # phase target query column(4 = median, 5 = p95)
  awk -F'\t' -v p="$1" -v t="$2" -v q="$3" -v c="$4" '$1 == p && $2 == t && $3 == q {print $c}' \
    "$find_results" | median
}
declare -A fmed fp95
find_medians() { # phase target...
  local phase=$1 target q
  shift
  for target in "$@"; do
    for q in "${q_names[@]}"; do
      fmed[$phase,$target,$q]=$(find_median "$phase" "$target" "$q" 4)
      fp95[$phase,$target,$q]=$(find_median "$phase" "$target" "$q" 5)
    done
  done
}
find_medians find "${targets[@]}"
find_medians scale "${scale_targets[@]}"
declare -A mmed
for target in "${targets[@]}"; do
  mmed[$target]=$(awk -F'\t' -v t="$target" '$1 == t {print $2}' "$move_results" | median)
done
plural() { [[ $1 == 1 ]] || echo s; }
find_table() { # phase target...
  local phase=$1 target q
  shift
  printf '  %-18s' ""
  for q in "${q_names[@]}"; do printf '  %-20s' "${q_label[$q]}"; done
  printf '\n  %-18s' ""
  for q in "${q_names[@]}"; do printf ' %9s %9s  ' median p95; done
  printf '\n'
  for target in "$@"; do
    printf '  %-18s' "$target"
    for q in "${q_names[@]}"; do
      printf ' %6.2f ms %6.2f ms  ' "${fmed[$phase,$target,$q]}" "${fp95[$phase,$target,$q]}"
    done
    printf '\n'
  done
}
summary=$work/summary.txt
{
  printf 'query: C-FIND (Study Root, STUDY level), C-MOVE and index scaling; %d round%s, medians, TCP_NODELAY=1\n' \
    "$runs" "$(plural "$runs")"
  printf 'C-FIND: %d studies (%d patients x %d, 64x64 CT) + the move study; dcmqrscp %d + 1 (its 500-study limit)\n' \
    "$find_studies" "$patients" "$studies_per_patient" "$qr_studies"
  printf '  one association per query kind, %d warm-up + %d timed queries; per round median and p95,\n' \
    "$warmup" "$queries"
  printf '  then the median over rounds. Matches: %s %d, %s %d, %s %d (dcmqrscp %d, %d, %d)\n' \
    "${q_key[patient_id]}" "${expect[full,patient_id]}" "${q_key[date_range]}" \
    "${expect[full,date_range]}" "${q_key[name_prefix]}" "${expect[full,name_prefix]}" \
    "${expect[dcmqrscp,patient_id]}" "${expect[dcmqrscp,date_range]}" \
    "${expect[dcmqrscp,name_prefix]}"
  find_table find "${targets[@]}" | sed 's/[[:space:]]*$//'
  if has_target orthanc; then
    for node in pacsnode/sqlite pacsnode/postgres; do
      has_target "$node" || continue
      parts=()
      for q in "${q_names[@]}"; do
        parts+=("$(awk -v a="${fmed[find,$node,$q]}" -v b="${fmed[find,orthanc,$q]}" -v l="${q_label[$q]}" \
          'BEGIN {printf "%s %.2f (%.1fx faster, %s)", l, a / b, b / a, (3 * a <= b ? "met" : "missed")}')")
      done
      line=$(printf '%s, ' "${parts[@]}")
      echo "ratios ($node median / orthanc median, target <= 0.33): ${line%, }"
    done
  fi
  printf 'C-MOVE: one study of %d 512x512 CT instances (%s MB) with movescu to a storescp writing to %s; median of %d moves\n' \
    "$move_instances" "$move_mb" "$(dirname "$dest_root")" "$((runs * moves_per_run))"
  for target in "${targets[@]}"; do
    printf '  %-18s %7.0f inst/s %5.0f MB/s  (%.3f s)\n' "$target" \
      "$(awk -v n="$move_instances" -v s="${mmed[$target]}" 'BEGIN {print n / s}')" \
      "$(awk -v b="$move_bytes" -v s="${mmed[$target]}" 'BEGIN {print b / 1e6 / s}')" "${mmed[$target]}"
  done
  if has_target orthanc; then
    parts=()
    for node in pacsnode/sqlite pacsnode/postgres; do
      has_target "$node" || continue
      parts+=("$node $(awk -v a="${mmed[$node]}" -v b="${mmed[orthanc]}" \
        'BEGIN {printf "%.2fx orthanc (%s)", b / a, (b / a >= 1.5 ? "met" : "missed")}')")
    done
    if ((${#parts[@]})); then
      line=$(printf '%s, ' "${parts[@]}")
      echo "ratios (C-MOVE inst/s, target >= 1.5x): ${line%, }"
    fi
  fi
  if ((${#scale_targets[@]})); then
    printf 'scaling: %d studies from pacsnode-genindex; matches: %s %d, %s %d, %s %d\n' \
      "$scale_studies" "${s_key[patient_id]}" "${s_expect[patient_id]}" "${s_key[date_range]}" \
      "${s_expect[date_range]}" "${s_key[name_prefix]}" "${s_expect[name_prefix]}"
    find_table scale "${scale_targets[@]}" | sed 's/[[:space:]]*$//'
    parts=()
    for target in "${scale_targets[@]}"; do
      worst=0
      for q in "${q_names[@]}"; do
        worst=$(awk -v a="$worst" -v b="${fmed[scale,$target,$q]}" 'BEGIN {print (b > a ? b : a)}')
      done
      parts+=("$target $(awk -v w="$worst" 'BEGIN {printf "%.2f ms (%s)", w, (w < 10 ? "met" : "missed")}')")
    done
    line=$(printf '%s, ' "${parts[@]}")
    echo "slowest scaling median (target < 10 ms): ${line%, }"
    for entry in "${scale_results[@]}"; do
      echo "  genindex fill: ${entry% *} ${entry##* } s"
    done
  fi
  echo "load (storescu, 1 association, informational; median s):"
  for target in "${targets[@]}"; do
    printf '  %-18s %6.1f s for %d instances\n' "$target" \
      "$(awk -F'\t' -v t="$target" '$1 == t {print $2}' "$load_results" | median)" \
      "$(awk -F'\t' -v t="$target" '$1 == t {print $3; exit}' "$load_results")"
  done
  echo "git $git_rev, $(nproc) cores, runs in $runs_jsonl"
} >"$summary"
cp "$summary" "$out/query-summary.txt"
cat "$summary"
