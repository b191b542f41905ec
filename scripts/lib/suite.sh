# shellcheck shell=bash
# Runs the ctest suite of one build directory: against SQLite, and against a throwaway PostgreSQL
# server started for the run (as the postgres user, on a free loopback port) and stopped after it.
# Each test starts its own node on its own ports, so several run side by side: four on two cores
# by default (PACSNODE_TEST_JOBS), since a test spends most of its time waiting on fsync, sockets
# and the tools it starts (the suite's CPU use is about a third of two cores at two jobs).
#
#   source scripts/lib/suite.sh
#   run_suite build [ctest arguments...]

# shellcheck source=scripts/lib/pg.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

run_suite() {
  local build_dir=$1
  shift
  ( # a subshell: the trap and the server belong to this run only
    trap pg_stop EXIT
    pg_start
    export PACSNODE_TEST_PG_URL="$PACSNODE_PG_URL"
    export TCP_NODELAY=1  # DCMTK clients without Nagle's delay (see README)
    ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j "${PACSNODE_TEST_JOBS:-4}" "$@"
  )
}
