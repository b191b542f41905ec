# shellcheck shell=bash
# The clang builds that run under a sanitizer, configured in one place for scripts/sanitize.sh and
# scripts/fuzz.sh (which share ./build-asan):
#   address  ./build-asan  ASan + UBSan, with the libFuzzer targets (-DPACSNODE_FUZZ=ON)
#   thread   ./build-tsan  TSan
# -O0 with line tables (readable stacks): the sanitizers find the same bugs, and it compiles in
# about half the time of -O1 (a third for Beast's coroutines), which keeps CI within its budget;
# the code under test runs slower, the suite's time is mostly waiting on disks and sockets.
#
#   source scripts/lib/sanitizers.sh
#   dir=$(sanitizer_build_dir address); configure_sanitizer_build address

sanitizer_build_dir() {
  case "$1" in
    address) echo build-asan ;;
    thread) echo build-tsan ;;
    *) echo "sanitizers.sh: unknown sanitizer $1" >&2; return 2 ;;
  esac
}

configure_sanitizer_build() {
  local kind=$1 dir
  dir=$(sanitizer_build_dir "$kind")
  [[ -f "$dir/build.ninja" ]] && return 0
  local options=(-DPACSNODE_FUZZ=ON)  # implies ASan + UBSan
  [[ "$kind" == thread ]] && options=(-DPACSNODE_SANITIZE=thread)
  CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_CXX_FLAGS="-O0 -gline-tables-only" "${options[@]}" >/dev/null
}
