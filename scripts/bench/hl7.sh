#!/usr/bin/env bash
# HL7 and worklist benchmark, in one run:
#  - ORM^O01 new orders over MLLP into pacsnode (SQLite and PostgreSQL index), each waiting for its
#    AA (the order and its worklist item committed durably first): messages/s on one connection
#    (3,000 orders), then on 8 connections side by side (7,000 more);
#  - Modality Worklist C-FIND latency with those 10,000 scheduled steps (5 modalities, 200 days):
#    a modality's query for its station AE and one day (10 matches), over one association with
#    pacsnode-find-timer. The same 10,000 items, exported from pacsnode with findscu -W, are served
#    side by side by Orthanc's worklist plugin and DCMTK's wlmscpfs (both read worklist files).
# Every target starts fresh for every round; targets alternate; the summary shows medians.
# Orthanc and wlmscpfs take no HL7: they have worklist figures only. Targets of issue 5: >= 2,000
# ORM messages/s on one connection with durable commit; MWL median under 5 ms.
#
#   scripts/bench/hl7.sh [--no-setup] [--runs N] [--out DIR] [--targets LIST]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=hl7
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF2'
usage: scripts/bench/hl7.sh [--no-setup] [--runs N] [--out DIR] [--targets LIST]
  --no-setup     do not run scripts/setup.sh bench first
  --runs N       rounds; the table shows medians (default 3)
  --out DIR      results directory (default bench-out/ in the repository)
  --targets LIST comma-separated subset of pacsnode/sqlite,pacsnode/postgres,orthanc,wlmscpfs
EOF2
}

target_list="pacsnode/sqlite,pacsnode/postgres,orthanc,wlmscpfs"
parse_common_args 3 "$@"
all_targets=(pacsnode/sqlite pacsnode/postgres orthanc wlmscpfs)
parse_targets "$target_list"
has_target pacsnode/sqlite || has_target pacsnode/postgres ||
  die "--targets: the worklist is loaded over HL7 into pacsnode: keep a pacsnode target"
bench_prepare "$setup"
mllp_bin=$repo/build/tests/pacsnode-mllp-timer
find_bin=$repo/build/tests/pacsnode-find-timer
ensure_built "pacsnode pacsnode-mllp-timer pacsnode-find-timer" "$pacsnode_bin" "$mllp_bin" \
  "$find_bin"
require_tools findscu echoscu python3 setsid timeout
require_target_tools
plugin=/usr/share/orthanc/plugins/libModalityWorklists.so
if has_target orthanc; then
  [[ -f "$plugin" ]] || die "Orthanc's worklist plugin is missing ($plugin)"
fi
bench_begin
pg_start_if_needed
mkdir -p "$out"
results=$out/hl7-runs.tsv
: >"$results"
wl=$work/worklists/WLM # the exported items, for Orthanc and wlmscpfs (AE directory WLM)

# The query of a CT modality for its station and one day: 10 of the 10,000 items match.
query_keys=(--key PatientName= --key PatientID= --key PatientBirthDate= --key PatientSex=
  --key AccessionNumber= --key StudyInstanceUID= --key RequestedProcedureID=
  --key RequestedProcedureDescription= --key ReferringPhysicianName=
  --step-key ScheduledStationAETitle=CT01 --step-key ScheduledProcedureStepStartDate=20270105
  --step-key Modality=CT --step-key ScheduledProcedureStepStartTime=
  --step-key ScheduledProcedureStepID= --step-key ScheduledProcedureStepDescription=
  --step-key ScheduledProcedureStepStatus=)
expected_matches=10

# Every worklist item as a file, as findscu -W gets it from pacsnode (the first pacsnode round).
export_worklist() {
  local port=$1 dir=$work/export
  rm -rf "$dir"
  mkdir -p "$dir" "$wl"
  local -a keys=(-k PatientName -k PatientID -k PatientBirthDate -k PatientSex -k AccessionNumber
    -k StudyInstanceUID -k RequestedProcedureID -k RequestedProcedureDescription
    -k ReferringPhysicianName -k "ScheduledProcedureStepSequence[0].ScheduledStationAETitle"
    -k "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate"
    -k "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime"
    -k "ScheduledProcedureStepSequence[0].Modality"
    -k "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID"
    -k "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription"
    -k "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus"
    -k RequestedProcedureCodeSequence -k ReferencedStudySequence -k ReferencedPatientSequence)
  run_client "$dir/findscu.log" 600 findscu -W -aec PACSNODE -X -od "$dir" "${keys[@]}" \
    127.0.0.1 "$port" || { show_client_log "$dir/findscu.log"; die "worklist export failed"; }
  local f n=0
  for f in "$dir"/rsp*.dcm; do
    n=$((n + 1))
    mv "$f" "$wl/item$n.wl"
  done
  ((n == 10000)) || die "exported $n worklist items, expected 10000"
  touch "$wl/lockfile" # wlmscpfs locks the AE directory through it
}

# What earlier targets wrote reaches the disk before the next measurement starts: PostgreSQL
# spreads a checkpoint's writes over minutes, and the kernel writes files back up to 30 s late,
# so without this a target's synced commits competed with its predecessors' writes (one
# connection on SQLite measured ~2,000/s in a first round and ~1,550/s in the next two).
settle_disk() {
  if has_target pacsnode/postgres; then pg_psql -d postgres -c CHECKPOINT >/dev/null; fi
  sync
}

run_one() {
  local round=$1 target=$2 dir=$work/run port aet single="-" eight="-" mwl
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  settle_disk
  port=$(free_port)
  case "$target" in
    pacsnode/sqlite | pacsnode/postgres)
      local db=sqlite mllp
      if [[ "$target" == pacsnode/postgres ]]; then db=$(pg_create_db "hl7_r${round}"); fi
      mllp=$(free_port)
      start_pacsnode "$dir/logs/server.log" "$dir/data" "$port" "$db" --mllp-port "$mllp" \
        --log-level warn --max-find-results 20000 --worklist-station-aet CT=CT01 \
        --worklist-station-aet MR=MR01 --worklist-station-aet US=US01 \
        --worklist-station-aet CR=CR01 --worklist-station-aet DX=DX01
      aet=PACSNODE
      wait_for_echo "$aet" "$port"
      run_client "$dir/logs/orm1.log" 600 "$mllp_bin" --port "$mllp" --count 3000 --days 200 ||
        { show_client_log "$dir/logs/orm1.log"; show_server_log; die "ORM load failed"; }
      single=$(sed -E 's/messages_per_s=([^ ]*).*/\1/' "$dir/logs/orm1.log")
      run_client "$dir/logs/orm8.log" 600 "$mllp_bin" --port "$mllp" --count 7000 --first 3000 \
        --connections 8 --days 200 ||
        { show_client_log "$dir/logs/orm8.log"; show_server_log; die "ORM load failed"; }
      eight=$(sed -E 's/messages_per_s=([^ ]*).*/\1/' "$dir/logs/orm8.log")
      [[ -d "$wl" ]] || export_worklist "$port"
      ;;
    orthanc)
      start_orthanc "$dir" "$port" "$(free_port)" '  "DicomAlwaysAllowFindWorklist": true,
  "Plugins": ["'"$plugin"'"],
  "Worklists": { "Enable": true, "Database": "'"$wl"'" }'
      aet=ORTHANC
      wait_for_echo "$aet" "$port"
      ;;
    wlmscpfs)
      start_server "$dir/logs/server.log" wlmscpfs -dfp "$(dirname "$wl")" "$port"
      aet=WLM
      wait_for_echo "$aet" "$port"
      ;;
  esac
  run_client "$dir/logs/mwl.log" 600 "$find_bin" --worklist --port "$port" --aec "$aet" \
    --count 100 --warmup 5 "${query_keys[@]}" ||
    { show_client_log "$dir/logs/mwl.log"; show_server_log; die "MWL query failed on $target"; }
  mwl=$(sed -E 's/median_ms=([^ ]*) p95_ms=([^ ]*) matches=([^ ]*).*/\1\t\2\t\3/' "$dir/logs/mwl.log")
  [[ "$(cut -f3 <<<"$mwl")" == "$expected_matches" ]] ||
    die "$target: the worklist query matched $(cut -f3 <<<"$mwl"), expected $expected_matches"
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$target" "$single" "$eight" "$mwl" >>"$results"
  echo "$bench_name: round $round $target done" >&2
  stop_server
  if [[ "$target" == pacsnode/postgres ]]; then pg_drop_db "hl7_r${round}"; fi
}

# The disk's floor for one connection: a message is acknowledged only after its commit is
# synced, and this is how many bare SQLite commits (one small row each, WAL, synchronous=FULL,
# pacsnode's settings) the disk takes per second, one after another.
commit_floor() {
  python3 - "$work/floor.sqlite" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
for warm in (True, False):
    start = time.monotonic()
    for i in range(2000):
        c.execute("BEGIN"); c.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,)); c.execute("COMMIT")
print(f"{2000 / (time.monotonic() - start):.0f}")
PY
}

for ((round = 1; round <= runs; round++)); do
  settle_disk
  printf '%s\tfloor\t%s\t-\t0\t0\t0\n' "$round" "$(commit_floor)" >>"$results"
  rm -f "$work"/floor.sqlite*
  order=()
  # pacsnode first in the first round: it exports the worklist the others serve.
  for t in pacsnode/sqlite pacsnode/postgres orthanc wlmscpfs; do has_target "$t" && order+=("$t"); done
  if ((round % 2 == 0)); then
    mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  fi
  for target in "${order[@]}"; do run_one "$round" "$target"; done
done

python3 - "$results" "$runs" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY' | tee "$out/hl7-summary.txt"
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
runs, rev = sys.argv[2], sys.argv[3]
floor = statistics.median(float(r[2]) for r in rows if r[1] == "floor")
rows = [r for r in rows if r[1] != "floor"]
print(f"hl7: {runs} round(s), medians over rounds, 127.0.0.1; git {rev}")
print(f"{'':20}{'ORM 1 conn':>12}{'ORM 8 conn':>12}{'MWL median':>12}{'p95':>10}")
print(f"{'disk floor':20}{floor:7.0f} c/s   (bare SQLite commits, synced, one after another)")
order = []
for r in rows:
    if r[1] not in order: order.append(r[1])
val = {}
for t in order:
    mine = [r for r in rows if r[1] == t]
    def med(col):
        xs = [float(r[col]) for r in mine if r[col] != '-']
        return statistics.median(xs) if xs else None
    one, eight, m, p = med(2), med(3), med(4), med(5)
    val[t] = (one, eight, m)
    fmt = lambda x, unit: f"{x:7.0f} {unit}" if x is not None else f"{'-':>9}  "
    print(f"{t:20}{fmt(one, 'm/s'):>12}{fmt(eight, 'm/s'):>12}{m:9.2f} ms{p:7.2f} ms")
for t in ("pacsnode/sqlite", "pacsnode/postgres"):
    if t not in val: continue
    one, eight, m = val[t]
    line = (f"{t}: ORM on one connection {one:.0f}/s (target >= 2000; {one / floor:.2f} of the "
            f"disk's {floor:.0f} synced commits/s), MWL median {m:.2f} ms (target < 5 ms)")
    for peer in ("orthanc", "wlmscpfs"):
        if peer in val: line += f", MWL {val[peer][2] / m:.1f}x faster than {peer}"
    print(line)
PY
