#!/usr/bin/env bash
# Sets everything up, builds, and starts the node on the embedded default: SQLite index, data under
# ./pacsnode-data, AE title PACSNODE, DIMSE port 11112. Extra arguments go to `pacsnode serve`
# (see `scripts/run.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh pacsnode
# DCMTK leaves Nagle's algorithm on unless TCP_NODELAY is set; the node sets it too, this is belt
# and braces for anything started from here.
export TCP_NODELAY=1
exec build/pacsnode/pacsnode serve "$@"
