#!/usr/bin/env bash
# DICOMweb benchmark, pacsnode (SQLite index) side by side with Orthanc and its DICOMweb plugin,
# in one run, on the same corpora, over HTTP keep-alive on 127.0.0.1 with pacsnode-http-timer:
#  - QIDO-RS /studies?PatientID=: latency (median, p95) on one connection, and requests/s with
#    16 concurrent connections;
#  - WADO-RS /studies/{study}/metadata of a 500-instance study (64x64 CT): latency of the first
#    request and of the ten after it;
#  - WADO-RS /studies/{study} of a 200-instance study (512x512 CT, 105 MB), multipart/related
#    application/dicom, fetched by pacsnode-http-timer --discard (1 MiB reads, the body dropped,
#    so the server sets the pace) and, for comparison, by curl (16 KiB reads): MB/s;
#  - STOW-RS POST /studies of a 100-instance study (512x512 CT) in one multipart body: instances/s
#    (the answer comes after every instance is stored; pacsnode syncs each, Orthanc by default too).
# Every target starts empty for every round; rounds alternate the targets; medians over rounds.
#
#   scripts/bench/dicomweb.sh [--no-setup] [--runs N] [--out DIR]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=dicomweb
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/dicomweb.sh [--no-setup] [--runs N] [--out DIR]
  --no-setup   do not run scripts/setup.sh bench first
  --runs N     rounds; the table shows medians (default 3)
  --out DIR    results directory (default bench-out/ in the repository)
EOF
}

parse_common_args 3 "$@"
all_targets="pacsnode/sqlite orthanc"
parse_targets "pacsnode/sqlite,orthanc"
bench_prepare "$setup"
timer_bin=$repo/build/tests/pacsnode-http-timer
ensure_built "pacsnode pacsnode-gencorpus pacsnode-http-timer" "$pacsnode_bin" "$gencorpus_bin" \
  "$timer_bin"
require_tools storescu echoscu curl python3 setsid timeout Orthanc
plugin=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
[[ -f "$plugin" ]] || die "Orthanc's DICOMweb plugin is missing ($plugin): apt-get install orthanc-dicomweb"
bench_begin
mkdir -p "$out"
results=$out/dicomweb-runs.tsv
: >"$results"

make_corpus dw-find "the QIDO corpus (200 patients x 3 studies)" --patients 200 --studies 3 \
  --series 1 --instances 1 --rows 64 --columns 64 --seed 21
make_corpus dw-meta "the metadata study (500 instances)" --patients 1 --studies 1 --series 1 \
  --instances 500 --rows 64 --columns 64 --seed 22
make_corpus dw-wado "the retrieve study (200 instances of 512x512)" --patients 1 --studies 1 \
  --series 1 --instances 200 --rows 512 --columns 512 --seed 23
make_corpus dw-stow "the STOW study (100 instances of 512x512)" --patients 1 --studies 1 \
  --series 1 --instances 100 --rows 512 --columns 512 --seed 24
corpus=$repo/build/bench-corpus
patient=$(tag_of "$(first_file "$corpus/dw-find/dicom")" 00100020)
meta_study=$(tag_of "$(first_file "$corpus/dw-meta/dicom")" 0020000D)
wado_study=$(tag_of "$(first_file "$corpus/dw-wado/dicom")" 0020000D)
wado_bytes=$(find "$corpus/dw-wado/dicom" -name '*.dcm' -printf '%s\n' | awk '{s += $1} END {print s}')
stow_body=$work/stow.body
python3 - "$corpus/dw-stow/dicom" "$stow_body" <<'PY'
import os, sys
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs if f.endswith('.dcm'))
with open(sys.argv[2], 'wb') as out:
    for f in files:
        out.write(b'--benchboundary0123456789abcdef\r\nContent-Type: application/dicom\r\n\r\n')
        out.write(open(f, 'rb').read())
        out.write(b'\r\n')
    out.write(b'--benchboundary0123456789abcdef--\r\n')
PY

# Runs the timer; prints its median, p95, requests/s and bytes (tab-separated).
timed() {
  local log=$1; shift
  if ! "$timer_bin" "$@" >"$log" 2>&1; then cat "$log" >&2; show_server_log; die "request failed"; fi
  sed -E 's/median_ms=([^ ]*) p95_ms=([^ ]*) requests_per_s=([^ ]*) bytes=([^ ]*).*/\1\t\2\t\3\t\4/' "$log"
}

run_one() {
  local round=$1 target=$2 dir=$work/run port http base
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  port=$(free_port)
  http=$(free_port)
  case "$target" in
    pacsnode/sqlite)
      start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" sqlite --http-port "$http" \
        --log-level warn
      aet=PACSNODE ;;
    orthanc)
      start_orthanc "$dir" "$port" "$http" '  "Plugins": ["'"$plugin"'"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" }'
      aet=ORTHANC ;;
  esac
  wait_for_echo "$aet" "$port"
  for c in dw-find dw-meta dw-wado; do
    run_client "$dir/logs/storescu.log" 600 storescu -aec "$aet" +sd +r 127.0.0.1 "$port" \
      "$corpus/$c/dicom" || { show_client_log "$dir/logs/storescu.log"; die "load failed"; }
  done
  base=/dicom-web
  local qido qido16 meta_first meta wado wado_curl stow
  qido=$(timed "$dir/logs/qido.log" --port "$http" --path "$base/studies?PatientID=$patient" \
    --header "Accept: application/dicom+json" --count 200 --warmup 10)
  qido16=$(timed "$dir/logs/qido16.log" --port "$http" --path "$base/studies?PatientID=$patient" \
    --header "Accept: application/dicom+json" --count 2000 --warmup 5 --concurrency 16)
  # The first metadata request (pacsnode builds its per-instance cache then), and the later ones.
  meta_first=$(timed "$dir/logs/meta-first.log" --port "$http" \
    --path "$base/studies/$meta_study/metadata" --header "Accept: application/dicom+json" \
    --count 1 --warmup 0)
  meta=$(timed "$dir/logs/meta.log" --port "$http" --path "$base/studies/$meta_study/metadata" \
    --header "Accept: application/dicom+json" --count 10 --warmup 0)
  # Retrieve: the timer reads each answer into one 1 MiB piece and drops it, so the server sets
  # the pace; the whole study must arrive (at least the corpus's bytes). curl's time, with its
  # 16 KiB reads, is kept beside it for comparison with earlier runs.
  wado=$(timed "$dir/logs/wado.log" --port "$http" --path "$base/studies/$wado_study" \
    --header 'Accept: multipart/related; type="application/dicom"' --count 8 --warmup 1 --discard)
  local wado_got
  wado_got=$(cut -f4 <<<"$wado")
  ((wado_got >= wado_bytes)) ||
    die "WADO-RS retrieve from $target returned $wado_got bytes, less than the study's $wado_bytes"
  local k t times=()
  for ((k = 0; k < 6; k++)); do
    t=$(curl -s -S -o /dev/null -w '%{time_total}' --max-time 120 \
      -H 'Accept: multipart/related; type="application/dicom"' \
      "http://127.0.0.1:$http$base/studies/$wado_study") || die "WADO-RS retrieve failed on $target"
    ((k > 0)) && times+=("$t")
  done
  wado_curl=$(printf '%s\n' "${times[@]}" | median | awk '{printf "%.3f\t0\t0\t0", $1 * 1000}')
  stow=$(timed "$dir/logs/stow.log" --port "$http" --method POST --path "$base/studies" \
    --header 'Content-Type: multipart/related; type="application/dicom"; boundary=benchboundary0123456789abcdef' \
    --header "Accept: application/dicom+json" --body "$stow_body" --count 1 --warmup 0)
  local kind value
  for kind in qido qido16 meta_first meta wado wado_curl stow; do
    value=${!kind}
    printf '%s\t%s\t%s\t%s\n' "$round" "$target" "$kind" "$value" >>"$results"
  done
  echo "$bench_name: round $round $target done" >&2
  stop_server
}

for ((round = 1; round <= runs; round++)); do
  if ((round % 2)); then order="pacsnode/sqlite orthanc"; else order="orthanc pacsnode/sqlite"; fi
  for target in $order; do run_one "$round" "$target"; done
done

python3 - "$results" "$wado_bytes" "$runs" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY' | tee "$out/dicomweb-summary.txt"
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
wado_bytes, runs, rev = int(sys.argv[2]), sys.argv[3], sys.argv[4]
def med(target, kind, col):
    return statistics.median(float(r[col]) for r in rows if r[1] == target and r[2] == kind)
print(f"dicomweb: {runs} round(s), medians over rounds, 127.0.0.1, keep-alive; git {rev}")
print(f"{'':20}{'QIDO median':>13}{'p95':>9}{'QIDO x16':>12}{'meta 1st':>11}{'metadata 500':>14}{'WADO study':>12}{'(curl)':>11}{'STOW 100':>11}")
val = {}
for t in ("pacsnode/sqlite", "orthanc"):
    q, p, r16 = med(t, "qido", 3), med(t, "qido", 4), med(t, "qido16", 5)
    m1, m = med(t, "meta_first", 3), med(t, "meta", 3)
    w = wado_bytes / 1e6 / (med(t, "wado", 3) / 1000)
    wc = wado_bytes / 1e6 / (med(t, "wado_curl", 3) / 1000)
    s = 100 / (med(t, "stow", 3) / 1000)
    val[t] = (q, r16, m, w, s, m1, wc)
    print(f"{t:20}{q:10.2f} ms{p:6.2f} ms{r16:8.0f} r/s{m1:8.1f} ms{m:11.1f} ms{w:7.0f} MB/s{wc:6.0f} MB/s{s:7.0f} i/s")
a, b = val["pacsnode/sqlite"], val["orthanc"]
print(f"ratios (pacsnode/orthanc): QIDO latency {a[0]/b[0]:.2f} (target <= 0.33), QIDO x16 {a[1]/b[1]:.1f}x (>= 3x), "
      f"metadata {b[2]/a[2]:.1f}x faster (>= 5x; first request {b[5]/a[5]:.1f}x), WADO {a[3]/b[3]:.1f}x (>= 2x; with curl {a[6]/b[6]:.1f}x), STOW {a[4]/b[4]:.1f}x (>= 1.5x)")
PY
