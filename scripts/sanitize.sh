#!/usr/bin/env bash
# Builds pacsnode and its tests with clang under a sanitizer and runs the suite there (SQLite and a
# throwaway PostgreSQL, as scripts/test.sh does). Every process of the run (the node, the tools,
# the tests) writes its sanitizer reports to files; any report fails the run, even one a test did
# not notice (a node that reported and went on, a leak found at exit), and is printed.
#
#   scripts/sanitize.sh [--no-setup] [address|thread] [ctest arguments...]
#
# address (the default): ASan + UBSan in ./build-asan (shared with scripts/fuzz.sh, whose targets
#   it also replays over their corpora): the suite on SQLite, the PostgreSQL-only tests included.
#   CI runs this (after the release suite has run everything on both back ends).
# thread: TSan, in ./build-tsan, the tests that drive the node from many connections at once
#   (override the selection with ctest arguments, e.g. -R Store). Not run by CI: report it.
set -euo pipefail
cd "$(dirname "$0")/.."
setup=1
if [[ "${1:-}" == "--no-setup" ]]; then setup=0; shift; fi
kind=address
if [[ "${1:-}" == "address" || "${1:-}" == "thread" ]]; then kind=$1; shift; fi
((setup)) && scripts/setup.sh

# shellcheck source=scripts/lib/sanitizers.sh
source scripts/lib/sanitizers.sh
build=$(sanitizer_build_dir "$kind")
configure_sanitizer_build "$kind"
# Address: the PostgreSQL variants of the back-end tests run the same node code as their SQLite
# twins (the SQL differs, and the release suite runs both); the browser test and the FHIR schema
# check exercise JavaScript and a JSON validator more than the node; the twenty-kill test and the
# 1,000-message outbox test repeat, many times over, paths that the crash tests and the other
# outbox tests take once. Leaving them out keeps the sanitizer stage within CI's time budget.
default_tests=(-E '/"postgresql"$|^BrowserTest\.|^FhirTest\.ResourcesValidateAgainstTheR4Schema$|KillTest\.TwentyKills|Hl7Test\.APoisonMessage')
# Concurrency, for TSan: concurrent index writers, four C-STORE associations at once, the kill
# harness's mixed traffic (C-STORE on three associations, STOW-RS and HL7 at the same time), and
# HL7 messages from several connections sharing SQLite transactions.
[[ "$kind" == thread ]] && default_tests=(-R 'ConcurrentWriters|FourAssociations|KillTest|SharedTransaction|FloodOnEightConnections')
ninja -C "$build" -j "${PACSNODE_BUILD_JOBS:-2}" suite  # what ctest runs; no benchmark tools

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
# halt_on_error: a finding stops the process that made it, so the test that caused it fails too.
export ASAN_OPTIONS="log_path=$reports/asan:halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1"
# DCMTK and the other Debian libraries are not instrumented: leaks inside them are not ours to fix,
# and TSan cannot see their locks. The suppression files name what was found and why it is theirs.
# The large-study test checks that memory stays flat, which ASan's own bookkeeping blurs (the
# release suite checks it, at 400 MB); what ASan adds there is the streaming path's memory safety,
# which 40 MB in 80 instances exercises as well as 400.
[[ "$kind" == address ]] && export PACSNODE_TEST_LARGE_STUDY_MB="${PACSNODE_TEST_LARGE_STUDY_MB:-40}"
# The kill test, when asked for by name (scripts/sanitize.sh address -R KillTest): 8 kills; the
# release suite runs all 20 kill moments.
[[ "$kind" == address ]] && export PACSNODE_TEST_KILLS="${PACSNODE_TEST_KILLS:-8}"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
TSAN_OPTIONS+=":suppressions=$PWD/tests/sanitizers/tsan.supp"

# shellcheck source=scripts/lib/suite.sh
source scripts/lib/suite.sh
status=0
if (($#)); then run_suite "$build" "$@" || status=$?; else run_suite "$build" "${default_tests[@]}" || status=$?; fi

found=$(find "$reports" -type f | wc -l)
if ((found)); then
  echo "sanitize ($kind): $found report(s):" >&2
  find "$reports" -type f -exec sh -c 'echo "== $1"; head -n 60 "$1"' _ {} \; >&2
  exit 1
fi
((status == 0)) || exit "$status"
echo "sanitize ($kind): suite passed, no sanitizer reports"
