#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in ./build-asan) and runs each for a bounded
# time from its seed corpus in tests/fuzz/corpus/<target> (which holds the regression inputs of
# every crash found so far). A crash, leak, sanitizer report or timeout fails the run; its input is
# saved under fuzz-out/<target>/ to be added to the corpus once fixed. CI runs 20 s per target.
#
#   scripts/fuzz.sh [--no-setup] [--seconds N] [--jobs N=2] [--targets a,b,...]
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(hl7_message mllp_framer multipart url dicom_json part10 j2k_decode)
setup=1 seconds=300 jobs=2 targets=("${all_targets[@]}")
usage() {
  echo "usage: scripts/fuzz.sh [--no-setup] [--seconds N] [--jobs N] [--targets $(IFS=,; echo "${all_targets[*]}")]"
}
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --seconds) seconds=${2:?}; shift ;;
    --jobs) jobs=${2:?}; shift ;;
    --targets) IFS=, read -r -a targets <<<"${2:?}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds must be a positive number" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --jobs must be a positive number" >&2; exit 2; }
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target $t" >&2; exit 2; }
done
((setup)) && scripts/setup.sh

# The ASan + UBSan build of scripts/sanitize.sh: only the fuzz targets are built here.
# shellcheck source=scripts/lib/sanitizers.sh
source scripts/lib/sanitizers.sh
configure_sanitizer_build address
ninja -C build-asan -j "${PACSNODE_BUILD_JOBS:-2}" "${targets[@]/#/fuzz_}"

# Runs one target; its verdict goes to fuzz-out/<target>/verdict (ok, or failed).
fuzz_one() {
  local t=$1 out="fuzz-out/$1" work
  work=$(mktemp -d)
  mkdir -p "$out"
  rm -f "$out/verdict"
  # New inputs go to a scratch corpus; the seeds are read, not changed.
  if build-asan/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" "$work" \
    "tests/fuzz/corpus/$t" >"$out/log.txt" 2>&1; then
    echo ok >"$out/verdict"
  else
    echo failed >"$out/verdict"
  fi
  rm -rf "$work"
}

# As many targets at once as there are jobs (one per core), each for the whole time.
echo "fuzz: ${targets[*]} for ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if ((running == jobs)); then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait
failed=()
for t in "${targets[@]}"; do
  if [[ "$(cat "fuzz-out/$t/verdict" 2>/dev/null)" == ok ]]; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "fuzz-out/$t/log.txt" |
      tr -s ' \n' ' ' | sed "s/^/fuzz: $t ok: /"
    echo
  else
    failed+=("$t")
    tail -n 40 "fuzz-out/$t/log.txt" >&2
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs and logs in fuzz-out/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
