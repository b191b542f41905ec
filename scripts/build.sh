#!/usr/bin/env bash
# Configures and builds pacsnode into ./build (Release with debug info, Ninja). Used by run.sh,
# test.sh and the benchmarks; extra arguments are passed to ninja (e.g. a target name).
set -euo pipefail
cd "$(dirname "$0")/.."
# -g1 (line tables and function names: stack traces and perf still read well) instead of -g:
# a quarter less compile time (CI builds from scratch on two cores).
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
fi
# Two jobs: the machines this runs on have two cores and GCC needs ~1 GB per C++20 job.
ninja -C build -j "${PACSNODE_BUILD_JOBS:-2}" "$@"
