#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite: unit and integration tests, against
# SQLite and against a throwaway PostgreSQL server that this script starts (as the postgres user,
# on a free loopback port) and stops when it ends. Extra arguments go to ctest (e.g. -R Store).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

# shellcheck source=scripts/lib/pg.sh
source scripts/lib/pg.sh
trap pg_stop EXIT
pg_start
export PACSNODE_TEST_PG_URL="$PACSNODE_PG_URL"
export TCP_NODELAY=1

# Each test starts its own node on its own ports, so two run side by side on two cores.
ctest --test-dir build --output-on-failure --timeout 600 -j 2 "$@"
