#!/usr/bin/env bash
# End-to-end test of the FHIR R4 read API against HL7's FHIR R4 JSON schema: starts a node (no
# authentication), sends an HL7 order, stores a synthetic study of its accession (linked to the
# order), files an HL7 report for it, then fhir.mjs reads every FHIR resource, validates it against
# fhir.schema.json (fhir-validate.mjs) and follows the links between them.
# Usage: tests/browser/run-fhir.sh BUILD_DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: run-fhir.sh BUILD_DIR}" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
pacsnode=$build/pacsnode/pacsnode
gencorpus=$build/tests/pacsnode-gencorpus
started=$(date +%s)

say() { echo "fhir-test: $*"; }
fail() { echo "fhir-test: FAIL: $*" >&2; exit 1; }

require_build_and_tools "$pacsnode" "$gencorpus"
command -v dcmodify >/dev/null || fail "dcmodify is missing (dcmtk)"

ensure_node_modules "$here" || fail "npm ci failed"

# The validator first: it must accept valid resources and reject broken ones.
node "$here/fhir-validate.mjs" || fail "fhir-validate.mjs does not tell valid from invalid resources"

work=$(mktemp -d "${TMPDIR:-/tmp}/pacsnode-fhir.XXXXXX")
node_pid=
cleanup() {
  local rc=$?
  stop_process "$node_pid"
  if ((rc != 0)) && [[ -f $work/node.log ]]; then
    echo "fhir-test: last lines of the node's log:" >&2
    tail -n 30 "$work/node.log" >&2 || true
  fi
  rm -rf "$work"
  echo "fhir-test: $( ((rc == 0)) && echo PASS || echo FAIL) in $(($(date +%s) - started)) s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r dimse_port http_port mllp_port < <(free_ports 3)
[[ -n $mllp_port ]] || fail "could not pick free ports"

say "starting the node (DIMSE $dimse_port, HTTP $http_port, MLLP $mllp_port)"
"$pacsnode" serve --data-dir "$work/data" --dimse-port "$dimse_port" --http-port "$http_port" \
  --mllp-port "$mllp_port" --study-quiet-seconds 2 >"$work/node.log" 2>&1 &
node_pid=$!
base=http://127.0.0.1:$http_port
wait_for_health "$base" "$node_pid" || fail "the node did not answer /health within 20 s (or exited)"

# 1. The order (ORM^O01 NW): placer PL-FHIR-1, filler FL-FHIR-1, accession ACC-FHIR-1 (OBR-18),
# patient PAT-FHIR-1. No ZDS: the node generates the order's Study Instance UID, so the study below
# is linked by its accession.
cat >"$work/order.hl7" <<'HL7'
MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124093000||ORM^O01^ORM_O01|FHIR0000001|P|2.5.1
PID|1||PAT-FHIR-1^^^HOSP^MR||Synthetic^Fhir||19800101|F
PV1|1|O|RAD^XR1^^HOSP
ORC|NW|PL-FHIR-1^EHR|FL-FHIR-1^RIS||SC||^^^20261124100000^^R||20261124093000
OBR|1|PL-FHIR-1^EHR|FL-FHIR-1^RIS|CTCHEST^CT chest^L||||||||||||||ACC-FHIR-1|RP-FHIR-1|SPS-FHIR-1||||CT|||^^^20261124100000^^R
HL7
say "sending the order"
timeout 20 node "$here/mllp-send.mjs" "$mllp_port" "$work/order.hl7" || fail "the order was not accepted (AA)"

# 2. The study: 2 series x 3 images, its accession and patient ID set to the order's.
"$gencorpus" --out "$work/study" --seed 7 --patients 1 --studies 1 --series 2 --instances 3 \
  --rows 64 --columns 64 >/dev/null
mapfile -t files < <(find "$work/study" -type f | sort)
((${#files[@]} == 6)) || fail "pacsnode-gencorpus made ${#files[@]} files, expected 6"
dcmodify -nb -m "(0008,0050)=ACC-FHIR-1" -m "(0010,0020)=PAT-FHIR-1" "${files[@]}" >/dev/null \
  || fail "dcmodify failed"
say "storing the study"
TCP_NODELAY=1 timeout 60 storescu -aec PACSNODE +sd +r 127.0.0.1 "$dimse_port" "$work/study" \
  || fail "storescu failed"
study_uid=
for i in $(seq 50); do
  study_uid=$(curl -fsS --max-time 2 "$base/api/reconciliation?state=linked" | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const l = JSON.parse(s).find((x) => x.fillerOrder === "FL-FHIR-1");
      console.log(l ? l.studyInstanceUID : ""); });' 2>/dev/null || true)
  [[ -n $study_uid ]] && break
  ((i == 50)) && fail "the study is not listed linked to FL-FHIR-1 within 10 s: $(curl -sS --max-time 2 "$base/api/reconciliation")"
  sleep 0.2
done
say "study $study_uid is linked to order FL-FHIR-1"

# 3. The report (ORU^R01) for the order.
cat >"$work/report.hl7" <<'HL7'
MSH|^~\&|RIS|HOSP|PACSNODE|RAD|20261124160000||ORU^R01^ORU_R01|FHIR0000002|P|2.5.1
PID|1||PAT-FHIR-1^^^HOSP^MR||Synthetic^Fhir
OBR|1|PL-FHIR-1^EHR|FL-FHIR-1^RIS|CTCHEST^CT chest^L|||20261124155500|||||||||||ACC-FHIR-1|RP-FHIR-1||||||F|||||||1234&Brown&Anna
OBX|1|TX|18782-3^Study observation^LN|1|No acute abnormality.||||||F
OBX|2|TX|19005-8^Impression^LN|1|Normal CT of the chest.||||||F
HL7
say "sending the report"
timeout 20 node "$here/mllp-send.mjs" "$mllp_port" "$work/report.hl7" || fail "the report was not accepted (AA)"
for i in $(seq 50); do
  curl -fsS --max-time 2 "$base/api/reports/$study_uid" 2>/dev/null | grep -q 'No acute abnormality' && break
  if ((i == 50)); then
    echo "fhir-test: the studies with accession ACC-FHIR-1 (the report may have gone to another one):" >&2
    curl -sS --max-time 5 "$base/dicom-web/studies?AccessionNumber=ACC-FHIR-1" | node -e '
      let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => { for (const x of JSON.parse(s || "[]"))
        console.error(`fhir-test:   ${x["0020000D"]?.Value?.[0]}: ${x["00201208"]?.Value?.[0]} instances`); });' || true
    grep 'ORU^R01' "$work/node.log" | tail -n 3 >&2 || true
    fail "GET /api/reports/$study_uid shows no report within 10 s: the report was not filed for the study linked to its order"
  fi
  sleep 0.2
done
say "the report is filed"

# 4. The FHIR resources.
say "running fhir.mjs"
PACSNODE_URL=$base FHIR_STUDY_UID=$study_uid FHIR_SENT_SERIES=2 FHIR_SENT_INSTANCES=6 \
  timeout 120 node "$here/fhir.mjs"
