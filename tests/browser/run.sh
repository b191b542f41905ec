#!/usr/bin/env bash
# End-to-end browser test of the web UI: starts a node that needs an API token, stores synthetic
# studies, sends an HL7 order, then drives Debian's chromium through e2e.mjs (playwright-core).
# Usage: tests/browser/run.sh BUILD_DIR
# Screenshots go to BUILD_DIR/browser-artifacts/. The UI is the copy built into the binary (what
# ships); BROWSER_TEST_UI_DIR=1 serves the source tree's web/ instead (--ui-dir: edits show
# without a rebuild, while working on the UI).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
pacsnode=$build/pacsnode/pacsnode
gencorpus=$build/tests/pacsnode-gencorpus
artifacts=$build/browser-artifacts
started=$(date +%s)

say() { echo "browser-test: $*"; }
fail() { echo "browser-test: FAIL: $*" >&2; exit 1; }

require_build_and_tools "$pacsnode" "$gencorpus"
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || fail "no $chromium (scripts/setup.sh installs chromium)"

ensure_node_modules "$here" || fail "npm ci failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/pacsnode-browser.XXXXXX")
node_pid=
ehr_pid=
cleanup() {
  local rc=$?
  if [[ -n $ehr_pid ]]; then kill "$ehr_pid" 2>/dev/null || true; wait "$ehr_pid" 2>/dev/null || true; fi
  stop_process "$node_pid"
  if ((rc != 0)) && [[ -f $work/node.log ]]; then
    echo "browser-test: last lines of the node's log:" >&2
    tail -n 30 "$work/node.log" >&2 || true
  fi
  rm -rf "$work"
  echo "browser-test: $( ((rc == 0)) && echo PASS || echo FAIL) in $(($(date +%s) - started)) s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four free loopback ports.
read -r dimse_port http_port mllp_port ehr_port < <(free_ports 4)
[[ -n $ehr_port ]] || fail "could not pick free ports"

# An admin API token: the UI has to log in.
token_output=$("$pacsnode" new-token)
token=$(awk '/^token:/ {print $2}' <<<"$token_output")
hash=$(awk '/^hash:/ {print $2}' <<<"$token_output")
[[ -n $token && -n $hash ]] || fail "pacsnode new-token printed no token and hash"

ui_args=()
[[ ${BROWSER_TEST_UI_DIR:-0} == 1 ]] && ui_args=(--ui-dir "$root/web")
# The EHR: receives the node's outbound HL7 (a complete study's ORU^R01 carries the viewer URL).
node "$here/mllp-receive.mjs" "$ehr_port" "$work/ehr.hl7" &
ehr_pid=$!
say "starting the node (DIMSE $dimse_port, HTTP $http_port, MLLP $mllp_port, EHR on $ehr_port)"
"$pacsnode" serve --data-dir "$work/data" --dimse-port "$dimse_port" --http-port "$http_port" \
  --mllp-port "$mllp_port" --api-token "ui:admin:$hash" "${ui_args[@]}" \
  --hl7-destination "EHR=127.0.0.1:$ehr_port" --study-quiet-seconds 2 >"$work/node.log" 2>&1 &
node_pid=$!
base=http://127.0.0.1:$http_port
wait_for_health "$base" "$node_pid" || fail "the node did not answer /health within 20 s (or exited)"

# Study 1 (seed 1: patient SYN1-0001): searched, viewed and launched. 2 series x 3 images.
"$gencorpus" --out "$work/study1" --patients 1 --studies 1 --series 2 --instances 3 \
  --rows 128 --columns 128 >/dev/null
# An order (HL7 ORM^O01 NW) for another patient and accession...
cat >"$work/order.hl7" <<'HL7'
MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01|E2E0000001|P|2.3.1
PID|1||E2E-ORDER-PAT^^^HOSP^MR||Synthetic^Orderpatient||19800101|O
PV1|1|O|RAD^XR1^^HOSP
ORC|NW|PL-E2E-1^EHR|FL-E2E-1^RIS||SC||^^^20261124100000^^R||20261124093000
OBR|1|PL-E2E-1^EHR|FL-E2E-1^RIS|CTCHEST^CT chest^L||||||||||||||ACC-E2E-1|RP-E2E-1|SPS-E2E-1||||CT|||^^^20261124100000^^R
HL7
# ... and study 2 (seed 2: patient SYN2-0001, accession A002000001) that matches no order.
"$gencorpus" --out "$work/study2" --seed 2 --patients 1 --studies 1 --series 1 --instances 2 \
  --rows 128 --columns 128 >/dev/null
# Study 3 (seed 3: patient SYN3-0001, a temporary ID) without an order: linked to patient SYN1-0001.
"$gencorpus" --out "$work/study3" --seed 3 --patients 1 --studies 1 --series 1 --instances 2 \
  --rows 128 --columns 128 >/dev/null

say "storing study 1"
TCP_NODELAY=1 timeout 60 storescu -aec PACSNODE +sd +r 127.0.0.1 "$dimse_port" "$work/study1" \
  || fail "storescu of study 1 failed"
say "sending the HL7 order"
timeout 20 node "$here/mllp-send.mjs" "$mllp_port" "$work/order.hl7" || fail "the order was not accepted"
say "storing study 2 (no order)"
TCP_NODELAY=1 timeout 60 storescu -aec PACSNODE +sd +r 127.0.0.1 "$dimse_port" "$work/study2" \
  || fail "storescu of study 2 failed"
say "storing study 3 (no order)"
TCP_NODELAY=1 timeout 60 storescu -aec PACSNODE +sd +r 127.0.0.1 "$dimse_port" "$work/study3" \
  || fail "storescu of study 3 failed"
# Wait until studies 2 and 3 are listed unreconciled (bounded).
for i in $(seq 50); do
  listed=$(curl -fsS --max-time 2 -H "Authorization: Bearer $token" "$base/api/reconciliation?state=unreconciled" || true)
  [[ $listed == *'"patientID":"SYN2-0001"'* && $listed == *'"patientID":"SYN3-0001"'* ]] && break
  ((i == 50)) && fail "studies 2 and 3 are not listed unreconciled within 10 s"
  sleep 0.2
done

rm -rf "$artifacts"
mkdir -p "$artifacts"
say "running e2e.mjs"
PACSNODE_URL=$base PACSNODE_TOKEN=$token E2E_PATIENT_ID=SYN1-0001 \
  E2E_UNRECONCILED_PATIENT_ID=SYN2-0001 E2E_UNSCHEDULED_PATIENT_ID=SYN3-0001 E2E_FILLER_ORDER=FL-E2E-1 E2E_EHR_MESSAGES=$work/ehr.hl7 ARTIFACTS_DIR=$artifacts \
  E2E_ORDER_ACCESSION=ACC-E2E-1 E2E_ORDER_MODALITY=CT E2E_ORDER_CONTROL_ID=E2E0000001 \
  CHROMIUM=$chromium timeout 240 node "$here/e2e.mjs"
