# shellcheck shell=bash
# Runs the ctest suite of one build directory: against SQLite, and against a throwaway PostgreSQL
# server started for the run (as the postgres user, on a free loopback port) and stopped after it.
# Each test starts its own node on its own ports, so two run side by side on two cores.
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
    ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j 2 "$@"
  )
}
