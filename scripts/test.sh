#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite: unit and integration tests, against
# SQLite and against a throwaway PostgreSQL server that this script starts (as the postgres user,
# on a free loopback port) and stops when it ends; then the same suite built with clang under
# AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh), and each fuzz target for
# 20 seconds (scripts/fuzz.sh). Extra arguments go to ctest (e.g. -R Store) and run the first
# suite only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh suite  # what the tests need (run.sh and the benchmarks build the rest)

# shellcheck source=scripts/lib/suite.sh
source scripts/lib/suite.sh
run_suite build "$@"
if (($# == 0)); then
  scripts/sanitize.sh --no-setup address
  scripts/fuzz.sh --no-setup --seconds 20
fi
