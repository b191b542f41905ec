# shellcheck shell=bash
# Shared plumbing of the benchmark scripts (scripts/bench/*.sh): source this file near the top of
# a script, after setting `bench_name` (the prefix of every message, e.g. "ingest").
#
#   die MSG...                    prints "NAME: FAIL: MSG" to stderr and exits 1
#   is_count S                    true if S is a positive decimal number
#   parse_targets LIST            splits the comma-separated LIST into `targets`, checking each
#                                 against `all_targets`; then has_target T tells if T was chosen
#   bench_prepare SETUP           resolves `out`, cds to `repo`, runs scripts/setup.sh bench if
#                                 SETUP is 1, sets pacsnode_bin and gencorpus_bin
#   ensure_built "NINJA..." BIN.. builds the ninja targets unless every BIN is executable
#   require_tools TOOL...         dies unless every TOOL is on PATH
#   require_target_tools          the same for the tools the chosen targets need
#   bench_begin                   stops whatever runs on exit (cleanup); makes the temp dir `work`
#   pg_start_if_needed            sources scripts/lib/pg.sh and starts PostgreSQL if a target needs it
#   make_corpus KEY NOTE ARG...   generates build/bench-corpus/KEY with pacsnode-gencorpus ARG...
#   first_file DIR                the first .dcm file below DIR (by name)
#   tag_of FILE GGGGEEEE          a short string element of an explicit VR little endian file
#   free_port                     prints a free loopback TCP port (scripts/lib/net.sh)
#   start_server LOG CMD...       starts the target in its own process group (`server_pid`)
#   start_pacsnode LOG DATA PORT DB [ARG...]  starts `pacsnode_bin` serve as AET PACSNODE
#   start_orthanc DIR PORT HTTP [JSON]        writes DIR/orthanc.json (plus JSON members) and
#                                             starts Orthanc as AET ORTHANC on it
#   wait_for_echo AET PORT [PID]  waits until AET answers a C-ECHO (PID: the process serving it)
#   stop_group PID [NOUN]         stops the process group led by PID; stop_server stops the target
#   run_client LOG LIMIT CMD...   runs a client under `timeout`, output to LOG; its exit status
#   show_server_log, show_client_log LOG   the tail of a log, to stderr
#   count_pacsnode_sqlite DATA, count_pacsnode_postgres URL, count_orthanc HTTP,
#   count_files DIR [FIND-ARG...] print how many instances a target holds
#   verify_count WHAT EXPECTED WHEN CMD...  checks CMD prints EXPECTED (sets `received`)
#   median                        the median of the numbers on stdin
#   now                           the UTC time, ISO 8601
#
# The script provides `repo` and `all_targets` (and `out`, its --out, for bench_prepare); it may
# define bench_on_exit, which cleanup calls right after stopping the target.

bench_name=${bench_name:-bench}

# shellcheck source=scripts/lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/net.sh"

die() {
  echo "$bench_name: FAIL: $*" >&2
  exit 1
}

is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

# The arguments of a benchmark that takes no others: --no-setup, --runs N (default DEFAULT_RUNS),
# --out DIR, -h, and --targets LIST when the script set `target_list` (its default) first. Sets
# `setup`, `runs`, `out` (and `target_list`); shows the script's `usage` for -h, or for anything
# else before failing.
#   parse_common_args DEFAULT_RUNS "$@"
parse_common_args() {
  setup=1 runs=$1 out=""
  shift
  while (($#)); do
    case "$1" in
      --no-setup) setup=0 ;;
      --runs) runs=${2:?}; shift ;;
      --out) out=${2:?}; shift ;;
      --targets)
        [[ -n "${target_list:-}" ]] || { usage >&2; die "unknown argument $1"; }
        target_list=${2:?}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument $1" ;;
    esac
    shift
  done
  is_count "$runs" || die "--runs must be a positive number"
}

# ---- targets and prerequisites
targets=()
parse_targets() {
  IFS=, read -r -a targets <<<"$1"
  ((${#targets[@]})) || die "--targets: empty"
  local t
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2154 # all_targets comes from the script
    [[ " ${all_targets[*]} " == *" $t "* ]] || die "--targets: unknown target '$t'"
  done
}
has_target() { [[ " ${targets[*]} " == *" $1 "* ]]; }

# The results directory `out` (a relative --out is relative to where the script was started; by
# default bench-out/ in the repository), then the working directory is the repository.
bench_prepare() {
  out=$(realpath -m "${out:-$repo/bench-out}")
  cd "$repo" || exit
  if (($1)); then
    scripts/setup.sh bench
  fi
  pacsnode_bin=$repo/build/pacsnode/pacsnode
  gencorpus_bin=$repo/build/tests/pacsnode-gencorpus
}

# Builds NINJA_TARGETS (one word list) with cmake and ninja unless every BIN is executable.
ensure_built() {
  local names=$1 bin missing=0
  shift
  for bin in "$@"; do [[ -x "$bin" ]] || missing=1; done
  ((missing)) || return 0
  local -a ninja_targets
  read -r -a ninja_targets <<<"$names"
  local said=${ninja_targets[*]: -1}
  if ((${#ninja_targets[@]} > 1)); then
    said=$(printf '%s, ' "${ninja_targets[@]:0:${#ninja_targets[@]}-1}")
    said="${said%, } and ${ninja_targets[*]: -1}"
  fi
  echo "$bench_name: building $said"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  ninja -C build "${ninja_targets[@]}"
  for bin in "$@"; do [[ -x "$bin" ]] || die "$bin is missing after the build"; done
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup.sh bench)"
  done
}

# The tools of the chosen targets: the index clients, Orthanc and curl, else the target itself.
require_target_tools() {
  local t
  for t in "${all_targets[@]}"; do
    has_target "$t" || continue
    case "$t" in
      pacsnode/sqlite) command -v sqlite3 >/dev/null || die "sqlite3 is missing" ;;
      pacsnode/postgres) command -v psql >/dev/null || die "psql is missing" ;;
      orthanc)
        command -v Orthanc >/dev/null || die "Orthanc is missing (run scripts/setup.sh bench)"
        command -v curl >/dev/null || die "curl is missing"
        ;;
      *) command -v "$t" >/dev/null || die "$t is missing" ;;
    esac
  done
}

# ---- state and cleanup: whatever runs is stopped on exit, on success and on failure alike
work=""
corpus_tmp=""
server_pid="" # the running target; started with setsid, so also its process group
server_log=""
client_pids=()

# True while the process exists and is not a zombie.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ "$stat" != Z* ]]
}

# Stops the process group led by PID: SIGTERM, then SIGKILL after 30 s. NOUN names it in the
# warning (default "process").
stop_group() {
  local pid=$1 noun=${2:-process} deadline
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if alive "$pid"; then
    echo "$bench_name: warning: $noun $pid ignored SIGTERM for 30 s; killing it" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  # Forked children (storescp --fork, dcmqrscp per association) are in the same process group.
  deadline=$((SECONDS + 10))
  while pgrep -g "$pid" >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if pgrep -g "$pid" >/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
}

stop_server() {
  local pid=$server_pid
  server_pid=""
  stop_group "$pid" server
}

cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${client_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  stop_server
  if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
  if declare -F pg_stop >/dev/null; then pg_stop; fi
  [[ -n "$work" ]] && rm -rf "$work"
  [[ -n "$corpus_tmp" ]] && rm -rf "$corpus_tmp"
  exit "$rc"
}

# Installs cleanup on exit and the signal traps, and makes the temp dir `work`.
bench_begin() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  work=$(mktemp -d -t pacsnode-bench.XXXXXX)
}

pg_start_if_needed() {
  has_target pacsnode/postgres || return 0
  # shellcheck source=scripts/lib/pg.sh
  source "${repo:?}/scripts/lib/pg.sh"
  pg_start
}

# ---- corpora, cached by their parameters
# Generates a corpus into build/bench-corpus/KEY unless it is there, saying "generating NOTE" on
# stderr; extra arguments go to pacsnode-gencorpus after its defaults here (CT, explicit VR little
# endian), so they may change them (--syntax j2k, --modality CR).
make_corpus() {
  local note=$2 root=${repo:?}/build/bench-corpus/$1
  shift 2
  if [[ ! -f "$root/complete" ]]; then
    echo "$bench_name: generating $note" >&2
    mkdir -p "$repo/build/bench-corpus"
    rm -rf "$root"
    corpus_tmp=$(mktemp -d "$repo/build/bench-corpus/.tmp.XXXXXX")
    "$gencorpus_bin" --out "$corpus_tmp/dicom" --modality CT --syntax explicit "$@" \
      >"$corpus_tmp/gencorpus.log" 2>&1 ||
      { cat "$corpus_tmp/gencorpus.log" >&2; die "pacsnode-gencorpus failed"; }
    touch "$corpus_tmp/complete"
    mv "$corpus_tmp" "$root"
    corpus_tmp=""
  fi
}

first_file() { find "$1" -name '*.dcm' | sort | head -n 1; }

tag_of() {
  python3 - "$1" "$2" <<'PY'
import sys
# Reads one short string element from an explicit VR little endian Part 10 file (its first
# occurrence after the preamble: the element must come before any item holding the same tag).
data = open(sys.argv[1], 'rb').read()
group, element = int(sys.argv[2][:4], 16), int(sys.argv[2][4:], 16)
needle = group.to_bytes(2, 'little') + element.to_bytes(2, 'little')
at = data.find(needle, 132)
length = int.from_bytes(data[at + 6:at + 8], 'little')
print(data[at + 8:at + 8 + length].decode().strip('\0 '))
PY
}

# ---- servers and clients
# Starts a target in its own process group, output to a log.
start_server() {
  server_log=$1
  shift
  setsid "$@" >"$server_log" 2>&1 </dev/null &
  server_pid=$!
}

# Starts pacsnode on DATA with index DB (sqlite or a PostgreSQL URL), DIMSE on PORT, AET PACSNODE;
# extra arguments go to `pacsnode serve`.
start_pacsnode() {
  local log=$1 data=$2 port=$3 db=$4
  shift 4
  start_server "$log" "$pacsnode_bin" serve --data-dir "$data" --dimse-port "$port" \
    --http-port "$(free_port)" --mllp-port "$(free_port)" --aet PACSNODE --db "$db" "$@"
}

# Starts Orthanc (AET ORTHANC, DICOM on PORT, HTTP on HTTP) storing under DIR/data, logging to
# DIR/logs/server.log; JSON, if given, is more configuration members (indented lines, no comma at
# the end).
start_orthanc() {
  local dir=$1 port=$2 http=$3 extra=${4:-}
  mkdir -p "$dir/data/storage" "$dir/data/index"
  {
    cat <<EOF
{
  "Name": "pacsnode-bench",
  "StorageDirectory": "$dir/data/storage",
  "IndexDirectory": "$dir/data/index",
  "DicomAet": "ORTHANC",
  "DicomPort": $port,
  "HttpPort": $http,
  "HttpBindAddress": "127.0.0.1",
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
EOF
    if [[ -n "$extra" ]]; then
      printf '  "DicomCheckCalledAet": false,\n%s\n}\n' "$extra"
    else
      printf '  "DicomCheckCalledAet": false\n}\n'
    fi
  } >"$dir/orthanc.json"
  start_server "$dir/logs/server.log" Orthanc "$dir/orthanc.json"
}

show_server_log() {
  if [[ -n "$server_log" && -s "$server_log" ]]; then
    echo "---- $server_log (last 40 lines)" >&2
    tail -n 40 "$server_log" >&2
  fi
}

# Waits until AET at PORT answers a C-ECHO (deadline 60 s); PID is the process serving it
# (default: the target).
wait_for_echo() {
  local aet=$1 port=$2 pid=${3:-$server_pid} deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      show_server_log
      die "$aet on port $port exited while starting"
    fi
    if echoscu -to 2 -ta 5 -td 5 -aec "$aet" 127.0.0.1 "$port" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  show_server_log
  die "$aet on port $port did not answer C-ECHO within 60 s"
}

# Runs a client in the background under `timeout` (so that a signal to the script interrupts the
# wait), output to LOG; returns its exit status.
run_client() {
  local log=$1 limit=$2 pid rc=0
  shift 2
  timeout -k 10 "$limit" "$@" >"$log" 2>&1 &
  pid=$!
  client_pids=("$pid")
  wait "$pid" || rc=$?
  client_pids=()
  return "$rc"
}

show_client_log() {
  echo "---- $1 (last 20 lines)" >&2
  tail -n 20 "$1" >&2
}

# ---- checks and figures
# Prints how many instances the running target holds.
count_pacsnode_sqlite() { sqlite3 -cmd '.timeout 10000' "$1/index.sqlite" 'select count(*) from instances'; }
count_pacsnode_postgres() { PGCONNECT_TIMEOUT=10 psql -X -A -t -q "$1" -c 'select count(*) from instances'; }
count_orthanc() {
  curl -fsS --max-time 10 "http://127.0.0.1:$1/statistics" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["CountInstances"])'
}
# Files below DIR; FIND-ARGs (e.g. -maxdepth 1 -name '*.dcm') narrow them.
count_files() { find "$1" "${@:2}" -type f | wc -l; }

# Checks that the target WHAT stored EXPECTED instances (CMD prints how many it holds): right away,
# or within 10 s (then warns: the target acknowledged instances before they were in its index).
# WHEN ends the failure message ("... instances after WHEN"). Sets `received`.
# shellcheck disable=SC2034 # read by the scripts
received=""
verify_count() {
  local what=$1 expected=$2 when=$3 deadline=$((SECONDS + 10)) got="" tries=0
  shift 3
  while :; do
    tries=$((tries + 1))
    got=$("$@" 2>>"$work/count.log") || got="error"
    [[ "$got" == "$expected" ]] && break
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  if [[ "$got" != "$expected" ]]; then
    show_server_log
    [[ -s "$work/count.log" ]] && tail -n 20 "$work/count.log" >&2
    die "$what holds $got instances after $when, expected $expected"
  fi
  if ((tries > 1)); then
    echo "$bench_name: warning: $what showed all $expected instances only after waiting" >&2
  fi
  # shellcheck disable=SC2034 # read by the scripts
  received=$got
}

median() { # reads numbers on stdin
  sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
