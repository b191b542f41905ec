#!/usr/bin/env bash
# Codec benchmark (issue 6), in one run:
#  - JPEG 2000 lossless encode and decode throughput (MB/s of uncompressed pixel data) of the
#    node's codec (codecs/j2k.h, timed in process by pacsnode-codec-timer) against the OpenJPEG
#    command-line tools opj_compress / opj_decompress on the same images: 8 CT images of 512x512
#    (12 bits stored) and 3 CR images of 1024x1024 (16 bits stored). Both decoders decode the same
#    codestreams (the node's; opj_compress with its defaults makes the same bytes, which the
#    table says). Decoding runs on 1 thread and with --threads (default 2 and 4;
#    the VM has 2 cores). The opj tools run once per measurement over a tmpfs directory holding
#    every image --iterations times (-ImgDir), so their start-up is paid once, but reading the
#    input and writing the output file (on tmpfs) is in their time; the timer reads and writes
#    memory only.
#  - WADO-RS transcoding: a study of 64 J2K lossless CT instances (512x512, stored as
#    1.2.840.10008.1.2.4.90) retrieved with transfer-syntax=1.2.840.10008.1.2.1 with curl from
#    pacsnode (SQLite index) and from Orthanc with its DICOMweb and GDCM plugins (GDCM decodes
#    J2K for Orthanc's transcoder): MB/s of the uncompressed answer. Each answer is checked to
#    hold every instance in explicit VR little endian.
# Rounds alternate which side goes first; the table shows medians over rounds.
#
#   scripts/bench/codec.sh [--no-setup] [--runs N] [--iterations N] [--threads LIST]
#                          [--retrieves N] [--out DIR]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
# OpenJPEG takes its default thread count from this: the "1 thread" figures must be one thread.
unset OPJ_NUM_THREADS
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=codec
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/codec.sh [flags]
  --no-setup      do not run scripts/setup.sh bench first
  --runs N        rounds; the table shows medians (default 3)
  --iterations N  codec passes over each image set per measurement (default 3)
  --threads LIST  comma-separated decode thread counts besides 1 (default 2,4)
  --retrieves N   timed WADO-RS retrieves per target and round, after one untimed (default 3)
  --out DIR       results directory (default bench-out/ in the repository)
EOF
}

setup=1 runs=3 iterations=3 threads_arg=2,4 retrieves=3 out=""
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --runs | --iterations | --threads | --retrieves | --out)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --runs) runs=$2 ;;
        --iterations) iterations=$2 ;;
        --threads) threads_arg=$2 ;;
        --retrieves) retrieves=$2 ;;
        --out) out=$2 ;;
      esac
      shift
      ;;
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
is_count "$runs" || die "--runs must be a positive number"
is_count "$iterations" || die "--iterations must be a positive number"
is_count "$retrieves" || die "--retrieves must be a positive number"
((runs <= 50 && iterations <= 100 && retrieves <= 100)) || die "--runs, --iterations or --retrieves too large"
IFS=, read -r -a extra_threads <<<"$threads_arg"
for t in "${extra_threads[@]}"; do
  if ! is_count "$t" || ((t > 64)); then die "--threads: '$t' is not a thread count"; fi
done
thread_counts=(1 "${extra_threads[@]}")
thread_list=$(
  IFS=,
  echo "${thread_counts[*]}"
)
all_targets="pacsnode/sqlite orthanc"
parse_targets "pacsnode/sqlite,orthanc"

bench_prepare "$setup"
timer_bin=$repo/build/tests/pacsnode-codec-timer
ensure_built "pacsnode pacsnode-gencorpus pacsnode-codec-timer" "$pacsnode_bin" "$gencorpus_bin" \
  "$timer_bin"
require_tools opj_compress opj_decompress storescu echoscu curl python3 setsid timeout sqlite3 Orthanc
plugin_dir=/usr/share/orthanc/plugins
for p in libOrthancDicomWeb.so libOrthancGdcm.so; do
  [[ -f "$plugin_dir/$p" ]] ||
    die "Orthanc plugin $plugin_dir/$p is missing: apt-get install orthanc-dicomweb orthanc-gdcm"
done
bench_begin
# The opj tools read and write files: on tmpfs, so that the disk is not what is measured.
shm=$(mktemp -d /dev/shm/pacsnode-codec.XXXXXX)
bench_on_exit() { rm -rf "$shm"; }
mkdir -p "$out"
results=$out/codec-runs.tsv # round, part, name, tool, op, threads, seconds, bytes
: >"$results"
git_rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)

# ---- image sets: name, corpus arguments, opj_compress -F (width,height,components,bits,sign)
set_names=(ct512 cr1024)
declare -A set_args set_raw set_note
set_args[ct512]="--instances 8 --rows 512 --columns 512 --bits 12 --seed 41"
set_raw[ct512]=512,512,1,12,u
set_note[ct512]="8 CT 512x512, 12 of 16 bits"
set_args[cr1024]="--modality CR --instances 3 --rows 1024 --columns 1024 --bits 16 --seed 42"
set_raw[cr1024]=1024,1024,1,16,u
set_note[cr1024]="3 CR 1024x1024, 16 bits"
corpus=$repo/build/bench-corpus
declare -A set_files set_opj_bytes set_same
for s in "${set_names[@]}"; do
  # shellcheck disable=SC2086 # the arguments are words
  make_corpus "codec-$s" "the $s images" --patients 1 --studies 1 --series 1 ${set_args[$s]}
  mkdir -p "$shm/$s/raw" "$shm/$s/j2k" "$shm/$s/enc" "$shm/$s/dec"
  # One untimed pass writes the images and the node's codestreams, each checked to be lossless.
  run_client "$work/$s-prepare.log" 300 "$timer_bin" --dir "$corpus/codec-$s/dicom" \
    --iterations 1 --raw-out "$shm/$s/raw" --j2k-out "$shm/$s/j2k" ||
    { show_client_log "$work/$s-prepare.log"; die "pacsnode-codec-timer failed on $s"; }
  set_files[$s]=$(find "$shm/$s/raw" -name '*.rawl' | wc -l)
  # Each image --iterations times, so that one opj process does the work of one timer pass.
  for ((k = 1; k <= iterations; k++)); do
    for f in "$shm/$s/raw"/*.rawl; do cp "$f" "$shm/$s/enc/$k-${f##*/}"; done
    for f in "$shm/$s/j2k"/*.j2k; do cp "$f" "$shm/$s/dec/$k-${f##*/}"; done
  done
done

# ---- one round of the codec part
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}'; }

codec_ours() { # round set
  local round=$1 s=$2 log=$work/timer.log line op threads seconds bytes
  run_client "$log" 600 "$timer_bin" --dir "$corpus/codec-$s/dicom" --iterations "$iterations" \
    --threads "$thread_list" || { show_client_log "$log"; die "pacsnode-codec-timer failed on $s"; }
  while read -r line; do
    op=$(sed -E 's/.*op=([a-z]+).*/\1/' <<<"$line")
    threads=$(sed -E 's/.*threads=([0-9]+).*/\1/' <<<"$line")
    seconds=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
    bytes=$(sed -E 's/.*raw_bytes=([0-9]+).*/\1/' <<<"$line")
    printf '%s\tcodec\t%s\tpacsnode\t%s\t%s\t%s\t%s\n' "$round" "$s" "$op" "$threads" "$seconds" \
      "$((bytes * iterations))" >>"$results"
  done < <(grep '^op=' "$log")
}

codec_opj() { # round set
  local round=$1 s=$2 dir=$shm/$2 expected t0 seconds threads bytes
  expected=$((set_files[$s] * iterations))
  bytes=$(find "$dir/enc" -name '*.rawl' -printf '%s\n' | awk '{s += $1} END {print s}')
  rm -f "$dir/enc"/*.J2K
  t0=$EPOCHREALTIME
  run_client "$work/opj.log" 600 opj_compress -ImgDir "$dir/enc" -OutFor J2K -F "${set_raw[$s]}" \
    -threads 1 || { show_client_log "$work/opj.log"; die "opj_compress failed on $s"; }
  seconds=$(seconds_since "$t0")
  (($(find "$dir/enc" -name '*.J2K' | wc -l) == expected)) || die "opj_compress did not write $expected codestreams"
  printf '%s\tcodec\t%s\topj\tencode\t1\t%s\t%s\n' "$round" "$s" "$seconds" "$bytes" >>"$results"
  set_opj_bytes[$s]=$(find "$dir/enc" -name '1-*.J2K' -printf '%s\n' | awk '{s += $1} END {print s}')
  # Whether opj_compress made the node's codestreams byte for byte: then both encoders did the
  # same work, and both decoders decode the same input.
  local f b same=identical
  for f in "$dir/j2k"/*.j2k; do
    b=${f##*/}
    cmp -s "$f" "$dir/enc/1-${b%.j2k}.J2K" || same=different
  done
  set_same[$s]=$same
  for threads in "${thread_counts[@]}"; do
    rm -f "$dir/dec"/*.rawl
    t0=$EPOCHREALTIME
    run_client "$work/opj.log" 600 opj_decompress -ImgDir "$dir/dec" -OutFor RAWL \
      -threads "$threads" -quiet || { show_client_log "$work/opj.log"; die "opj_decompress failed on $s"; }
    seconds=$(seconds_since "$t0")
    printf '%s\tcodec\t%s\topj\tdecode\t%s\t%s\t%s\n' "$round" "$s" "$threads" "$seconds" "$bytes" \
      >>"$results"
  done
  # The node's codestreams decode with OpenJPEG's own tool to exactly the images.
  for f in "$dir/raw"/*.rawl; do
    cmp -s "$f" "$dir/dec/1-${f##*/}" ||
      die "opj_decompress of the node's codestream of $s image ${f##*/} differs from the image"
  done
}

# ---- the WADO-RS part: a J2K study in both servers, retrieved as explicit VR little endian
wado_instances=64
make_corpus codec-wado "the J2K study ($wado_instances CT instances of 512x512)" --patients 1 \
  --studies 1 --series 1 --instances "$wado_instances" --rows 512 --columns 512 --bits 12 \
  --seed 43 --syntax j2k
wado_corpus=$corpus/codec-wado/dicom
wado_study=$(tag_of "$(first_file "$wado_corpus")" 0020000D)
explicit=1.2.840.10008.1.2.1
j2k_lossless=1.2.840.10008.1.2.4.90
accept="multipart/related; type=\"application/dicom\"; transfer-syntax=$explicit"

# Checks a saved answer (headers HEAD, body BODY) holds N instances, all in explicit VR little
# endian; prints the first part's Content-Type.
check_answer() {
  python3 - "$1" "$2" "$3" "$explicit" <<'PY'
import re, sys
head, body, expected, syntax = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), int(sys.argv[3]), sys.argv[4]
m = re.search(rb'(?im)^content-type:.*boundary="?([^";\r\n]+)', head)
if not m:
    sys.exit("no multipart boundary in the answer's Content-Type")
parts = body.split(b'--' + m.group(1))[1:-1]
if len(parts) != expected:
    sys.exit(f"{len(parts)} parts, expected {expected}")
first_type = ''
for i, part in enumerate(parts):
    headers, _, data = part.partition(b'\r\n\r\n')
    if i == 0:
        t = re.search(rb'(?im)^content-type:\s*(.*?)\r?$', headers)
        first_type = t.group(1).decode() if t else '(none)'
    if data[128:132] != b'DICM':
        sys.exit(f"part {i + 1} is no Part 10 file")
    # (0002,0010) Transfer Syntax UID, explicit VR: tag, "UI", 2-byte length, value.
    at = data.find(b'\x02\x00\x10\x00UI', 132)
    if at < 0:
        sys.exit(f"part {i + 1} has no transfer syntax")
    n = int.from_bytes(data[at + 6:at + 8], 'little')
    uid = data[at + 8:at + 8 + n].rstrip(b'\0 ').decode()
    if uid != syntax:
        sys.exit(f"part {i + 1} is in {uid}, not {syntax}")
    if data.find(b'\xe0\x7f\x10\x00OW') < 0 and data.find(b'\xe0\x7f\x10\x00OB') < 0:
        sys.exit(f"part {i + 1} has no native pixel data")
print(first_type)
PY
}

# Whether the target stored the study as J2K: the transfer syntax of one stored instance.
stored_syntax() { # target data-dir http-port
  case "$1" in
    pacsnode/sqlite)
      local f
      f=$(find "$2" -type f -size +20k ! -name 'index.sqlite*' | head -n 1)
      [[ -n "$f" ]] && tag_of "$f" 00020010
      ;;
    orthanc)
      local id
      id=$(curl -fsS --max-time 10 "http://127.0.0.1:$3/instances" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)[0])')
      curl -fsS --max-time 10 "http://127.0.0.1:$3/instances/$id/metadata/TransferSyntax"
      ;;
  esac
}

# Starts TARGET on DIR (its data survives a restart), DIMSE on PORT, HTTP on HTTP.
start_target() { # target dir port http
  case "$1" in
    pacsnode/sqlite)
      start_pacsnode "$2/logs/server.log" "$2/data" "$3" sqlite --http-port "$4" --log-level warn
      wait_for_echo PACSNODE "$3"
      ;;
    orthanc)
      # GDCM decodes J2K; Orthanc's transcoder (DCMTK first, then the plugin) writes the answer.
      start_orthanc "$2" "$3" "$4" '  "Plugins": ["'"$plugin_dir/libOrthancDicomWeb.so"'", "'"$plugin_dir/libOrthancGdcm.so"'"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" },
  "Gdcm": { "Enable": true }'
      wait_for_echo ORTHANC "$3"
      ;;
  esac
}

# User and system CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A retrieve failed. Orthanc 1.10.1 with the GDCM 1.5 plugin segfaults now and then while it
# transcodes (on the first retrieve of a fresh server too, with or without GDCM's throttling):
# then the crash is counted and the server restarted on the same data, and the caller repeats
# the retrieve; at most 20 crashes in a run (about 1 retrieve in 4 crashed in our runs). A
# failure with the server still up ends the run.
crash_budget=20
restart_after_crash() { # target dir port http
  if alive "$server_pid"; then
    show_server_log
    die "WADO-RS retrieve failed on $1"
  fi
  local rc=0
  wait "$server_pid" 2>/dev/null || rc=$?
  echo "codec: warning: $1 died during a retrieve (exit status $rc); restarting it" >&2
  echo "$1" >>"$work/crashes"
  server_pid=""
  crash_budget=$((crash_budget - 1))
  ((crash_budget > 0)) || die "$1 crashed 20 times"
  start_target "$@"
}

wado_one() { # round target
  local round=$1 target=$2 dir=$work/wado port http aet
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  port=$(free_port)
  http=$(free_port)
  start_target "$target" "$dir" "$port" "$http"
  aet=PACSNODE
  [[ "$target" == orthanc ]] && aet=ORTHANC
  # -xv: propose J2K lossless, the files' syntax (storescu proposes uncompressed ones only by default).
  run_client "$dir/logs/storescu.log" 600 storescu -xv -aec "$aet" +sd +r 127.0.0.1 "$port" \
    "$wado_corpus" || { show_client_log "$dir/logs/storescu.log"; die "loading $target failed"; }
  case "$target" in
    pacsnode/sqlite) verify_count "$target" "$wado_instances" "the load" count_pacsnode_sqlite "$dir/data" ;;
    orthanc) verify_count "$target" "$wado_instances" "the load" count_orthanc "$http" ;;
  esac
  local stored
  stored=$(stored_syntax "$target" "$dir/data" "$http") || stored=unknown
  [[ "$stored" == "$j2k_lossless" ]] || die "$target stored the study as '$stored', not J2K lossless"

  local url=http://127.0.0.1:$http/dicom-web/studies/$wado_study k=0 t bytes type
  # The untimed first retrieve is kept and checked: every instance, each in explicit VR LE with
  # native pixel data (Orthanc's own DCMTK cannot decode J2K: a native answer is GDCM's work).
  until curl -s -S -f --max-time 300 -D "$dir/answer.head" -o "$dir/answer.body" \
    -H "Accept: $accept" "$url"; do
    restart_after_crash "$target" "$dir" "$port" "$http"
  done
  type=$(check_answer "$dir/answer.head" "$dir/answer.body" "$wado_instances") ||
    die "$target did not answer in $explicit (see above)"
  printf 'codec: round %d %-16s answer: %d parts in %s, first part "%s", %s bytes\n' "$round" \
    "$target" "$wado_instances" "$explicit" "$type" "$(stat -c %s "$dir/answer.body")" >&2
  # The server's CPU time per retrieve (all its threads; with 2 cores, it tells whether a side is
  # CPU-bound), unless a crash lost the count.
  local cpu0 crashed=0
  cpu0=$(cpu_ticks "$server_pid")
  while ((k < retrieves)); do
    if t=$(curl -s -S -f -o /dev/null -w '%{time_total} %{size_download}' --max-time 300 \
      -H "Accept: $accept" "$url"); then
      read -r t bytes <<<"$t"
      printf '%s\twado\tstudy\t%s\tretrieve\t0\t%s\t%s\n' "$round" "$target" "$t" "$bytes" >>"$results"
      k=$((k + 1))
    else
      restart_after_crash "$target" "$dir" "$port" "$http"
      crashed=1
    fi
  done
  if ((!crashed)); then
    printf '%s\twado\tcpu\t%s\tretrieve\t0\t%s\t0\n' "$round" "$target" \
      "$(awk -v a="$cpu0" -v b="$(cpu_ticks "$server_pid")" -v hz="$(getconf CLK_TCK)" \
        -v n="$retrieves" 'BEGIN {printf "%.3f", (b - a) / hz / n}')" >>"$results"
  fi
  stop_server
  rm -rf "$dir"
}

# ---- the rounds
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/crashes"
echo "codec: $runs round(s), $iterations pass(es) per codec measurement, decode threads $thread_list, $retrieves retrieve(s) per round" >&2
for ((round = 1; round <= runs; round++)); do
  for s in "${set_names[@]}"; do
    if ((round % 2)); then
      codec_ours "$round" "$s"
      codec_opj "$round" "$s"
    else
      codec_opj "$round" "$s"
      codec_ours "$round" "$s"
    fi
  done
  if ((round % 2)); then order="pacsnode/sqlite orthanc"; else order="orthanc pacsnode/sqlite"; fi
  for target in $order; do wado_one "$round" "$target"; done
  echo "codec: round $round/$runs done" >&2
done

# ---- the table
ours_bytes() { find "$shm/$1/j2k" -name '*.j2k' -printf '%s\n' | awk '{s += $1} END {print s}'; }
raw_bytes() { find "$shm/$1/raw" -name '*.rawl' -printf '%s\n' | awk '{s += $1} END {print s}'; }
set_info=()
for s in "${set_names[@]}"; do
  set_info+=("$s|${set_note[$s]}|$(raw_bytes "$s")|$(ours_bytes "$s")|${set_opj_bytes[$s]}|${set_same[$s]}")
done
python3 - "$results" "$runs" "$iterations" "$thread_list" "$git_rev" "$(nproc)" "$wado_instances" \
  "$load_before" "$work/crashes" "${set_info[@]}" <<'PY' | tee "$out/codec-summary.txt"
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
runs, iterations, threads, rev, cores, instances, load = sys.argv[2:9]
sets = [s.split('|') for s in sys.argv[10:]]
crashes = {}
for line in open(sys.argv[9]):
    crashes[line.strip()] = crashes.get(line.strip(), 0) + 1
threads = [int(t) for t in threads.split(',')]

def mbps(part, name, tool, op, t):
    # The median of the rounds' durations, as MB/s of uncompressed pixel data.
    sel = [r for r in rows if r[1] == part and r[2] == name and r[3] == tool and r[4] == op and int(r[5]) == t]
    return int(sel[0][7]) / 1e6 / statistics.median(float(r[6]) for r in sel)

print(f"codec: JPEG 2000 lossless, MB/s of uncompressed pixel data, median of {runs} round(s) of "
      f"{iterations} pass(es); git {rev}, {cores} cores")
print("  pacsnode: pacsnode-codec-timer, in memory; opj: opj_compress/opj_decompress 2.5 over "
      "-ImgDir on tmpfs (file read and write included)")
cols = ["encode"] + [f"decode {t}T" for t in threads]
print(f"{'':22}" + "".join(f"{c:>14}" for c in cols))
ratios = []
for name, note, raw, ours, opj, same in sets:
    print(f"{name}: {note}, {int(raw) / 1e6:.1f} MB; codestreams pacsnode {int(raw) / int(ours):.2f}:1, "
          f"opj_compress {int(raw) / int(opj):.2f}:1 ({same})")
    vals = {}
    for tool in ("pacsnode", "opj"):
        v = [mbps("codec", name, tool, "encode", 1)] + [mbps("codec", name, tool, "decode", t) for t in threads]
        vals[tool] = v
        print(f"  {tool:20}" + "".join(f"{x:9.1f} MB/s" for x in v))
    r = [a / b for a, b in zip(vals["pacsnode"], vals["opj"])]
    print(f"  {'pacsnode/opj':20}" + "".join(f"{x:13.2f}x" for x in r))
    d1 = vals["pacsnode"][1]
    ratios.append(f"{name}: decode 1T {r[1]:.2f}x opj ({'met' if r[1] >= 0.9 else 'missed'}), "
                  + ", ".join(f"{t}T {vals['pacsnode'][i + 1] / d1:.2f}x our 1T" for i, t in enumerate(threads) if t > 1))
print("targets (decode >= 0.9x opj_decompress on 1 thread, faster with threads):")
for line in ratios:
    print("  " + line)

w = {}
for target in ("pacsnode/sqlite", "orthanc"):
    sel = [r for r in rows if r[1] == "wado" and r[2] == "study" and r[3] == target]
    secs = statistics.median(float(r[6]) for r in sel)
    cpus = [float(r[6]) for r in rows if r[1] == "wado" and r[2] == "cpu" and r[3] == target]
    cpu = statistics.median(cpus) if cpus else float("nan")
    w[target] = (int(sel[0][7]) / 1e6 / secs, secs, int(sel[0][7]), cpu)
print(f"WADO-RS /studies/{{study}}, {instances} J2K lossless CT instances (512x512) with "
      f"transfer-syntax=1.2.840.10008.1.2.1, curl, median of {len(sel)} retrieves")
for target, (rate, secs, size, cpu) in w.items():
    usage = f"server CPU {cpu:.2f} s per retrieve, {cpu / secs:.1f} cores" if cpu == cpu else "server CPU not counted: it crashed in every round"
    print(f"  {target:20}{rate:9.1f} MB/s  {secs:6.2f} s  ({size / 1e6:.1f} MB, {int(instances) / secs:.0f} inst/s; {usage})")
ratio = w["pacsnode/sqlite"][0] / w["orthanc"][0]
print(f"ratio pacsnode/orthanc: {ratio:.2f}x (target >= 1.5x, {'met' if ratio >= 1.5 else 'missed'})")
if int(runs) > 1:
    per_round = []
    for rnd in sorted({r[0] for r in rows if r[1] == "wado"}, key=int):
        med = {t: statistics.median(float(r[6]) for r in rows if r[1] == "wado" and r[2] == "study" and r[0] == rnd and r[3] == t)
               for t in ("pacsnode/sqlite", "orthanc")}
        per_round.append(f"{med['orthanc'] / med['pacsnode/sqlite']:.2f}x")
    print("  per round: " + ", ".join(per_round))
for target, n in crashes.items():
    print(f"{target} crashed {n} time(s) while transcoding (segfault); restarted on its data, the retrieve repeated")
print(f"load average before the run: {load}")
PY
