#!/usr/bin/env bash
# Scale-out benchmark: the cluster recipe (scripts/cluster.sh: PostgreSQL primary and streaming
# replica, N pacsnode nodes on one data directory, nginx in front) with 1, 2 and 3 nodes, in one
# run, each round on a fresh cluster:
#  - ingest: 8 storescu clients at once through the balancer (one association each, spread over
#    the nodes), 800 instances of 256x256 CT: instances/s until the last client is answered;
#  - QIDO-RS /studies?PatientID= through the balancer: requests/s with 16 concurrent keep-alive
#    connections for 10 s (pacsnode-http-timer), answered by the replica once it has caught up.
# Prints each node count's medians over the rounds and its ratio to one node. On a 2-core machine
# the curve flattens: every node, the two PostgreSQL servers, nginx and the clients share the
# cores (see docs/scale-out.md for what that means on a larger machine).
#
#   scripts/bench/cluster.sh [--no-setup] [--runs N] [--out DIR]
set -euo pipefail
export LC_ALL=C
export TCP_NODELAY=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_name=cluster
# shellcheck source=scripts/lib/bench.sh
source "$repo/scripts/lib/bench.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench/cluster.sh [--no-setup] [--runs N] [--out DIR]
  --no-setup   do not run scripts/setup.sh first
  --runs N     rounds; the table shows medians (default 1)
  --out DIR    results directory (default bench-out/ in the repository)
EOF
}

parse_common_args 1 "$@"
all_targets="cluster"
parse_targets "cluster"
bench_prepare 0
if ((setup)); then scripts/setup.sh; fi
timer_bin=$repo/build/tests/pacsnode-http-timer
ensure_built "pacsnode pacsnode-gencorpus pacsnode-http-timer" "$pacsnode_bin" "$gencorpus_bin" \
  "$timer_bin"
require_tools storescu curl nginx setsid timeout
bench_begin
mkdir -p "$out"
results=$out/cluster-runs.tsv
: >"$results"

make_corpus cluster-ingest "the ingest corpus (800 instances of 256x256)" --patients 40 \
  --studies 1 --series 2 --instances 10 --rows 256 --columns 256 --seed 41
corpus=$repo/build/bench-corpus/cluster-ingest/dicom
patient=$(tag_of "$(first_file "$corpus")" 00100020)
total=$(find "$corpus" -name '*.dcm' | wc -l)
clients=8
# The clients' shares: every eighth file, as links in a folder each.
i=0
while IFS= read -r f; do
  mkdir -p "$work/share$((i % clients))"
  ln -s "$f" "$work/share$((i % clients))/$i.dcm"
  i=$((i + 1))
done < <(find "$corpus" -name '*.dcm' | sort)

cluster_dir=""
bench_on_exit() {
  [[ -z "$cluster_dir" ]] || "$repo/scripts/cluster.sh" stop --dir "$cluster_dir" >/dev/null 2>&1
}

for ((run = 1; run <= runs; run++)); do
  for nodes in 1 2 3; do
    cluster_dir=$work/cluster$nodes
    PACSNODE_BIN=$pacsnode_bin "$repo/scripts/cluster.sh" start --dir "$cluster_dir" \
      --nodes "$nodes" >"$work/start.log" 2>&1 || { cat "$work/start.log" >&2; die "cluster start"; }
    # shellcheck source=/dev/null
    source "$cluster_dir/cluster.env"
    start=$(date +%s.%N)
    pids=()
    for ((c = 0; c < clients; c++)); do
      timeout 600 storescu -aec PACSNODE 127.0.0.1 "$CLUSTER_DIMSE_PORT" +sd +r "$work/share$c" \
        >"$work/client$c.log" 2>&1 &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || die "a storescu client failed (see $work)"; done
    end=$(date +%s.%N)
    stored=$(psql -X -Atq "$CLUSTER_DB" -c "SELECT COUNT(*) FROM instances")
    [[ "$stored" == "$total" ]] || die "$nodes nodes: $stored of $total instances stored"
    ingest=$(python3 -c "print(f'{$total / ($end - $start):.1f}')")
    qido=$("$timer_bin" --port "$CLUSTER_HTTP_PORT" --path "/dicom-web/studies?PatientID=$patient" \
      --seconds 10 --concurrency 16 | sed -n 's/.* per_s=\([0-9.]*\).*/\1/p')
    [[ -n "$qido" ]] || die "$nodes nodes: the QIDO run failed"
    replica=0
    for ((n = 1; n <= nodes; n++)); do
      port_var=CLUSTER_NODE${n}_HTTP_PORT
      served=$(curl -fsS "http://127.0.0.1:${!port_var}/metrics" |
        sed -n 's/^pacsnode_index_queries_total{server="replica"} \([0-9.e+]*\)$/\1/p')
      replica=$(python3 -c "print(int($replica + ${served:-0}))")
    done
    printf '%s\t%s\t%s\t%s\n' "$nodes" "$ingest" "$qido" "$replica" >>"$results"
    echo "$bench_name: round $run, $nodes node(s): ingest $ingest instances/s, QIDO $qido" \
      "requests/s ($replica answered by the replica)" >&2
    "$repo/scripts/cluster.sh" stop --dir "$cluster_dir" >/dev/null 2>&1
    cluster_dir=""
  done
done

echo
echo "Scale-out on $(nproc) cores, $(now): $total instances (256x256 CT) from $clients storescu"
echo "clients; QIDO /studies?PatientID= with 16 connections for 10 s; medians of $runs round(s)."
python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines() if line]
by = {}
for nodes, ingest, qido, _ in rows:
    by.setdefault(int(nodes), ([], []))
    by[int(nodes)][0].append(float(ingest))
    by[int(nodes)][1].append(float(qido))
base = by[1]
print(f"{'nodes':>5}  {'ingest inst/s':>13}  {'x 1 node':>8}  {'QIDO req/s':>10}  {'x 1 node':>8}")
for n in sorted(by):
    ingest = statistics.median(by[n][0]); qido = statistics.median(by[n][1])
    print(f"{n:>5}  {ingest:>13.1f}  {ingest / statistics.median(base[0]):>8.2f}"
          f"  {qido:>10.1f}  {qido / statistics.median(base[1]):>8.2f}")
EOF
