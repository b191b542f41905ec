# Shell helpers shared by the browser-side tests' runners (run.sh, run-fhir.sh); sourced, not run.

# free_ports N: N free loopback ports (bound and released by the kernel's choice), on one line.
free_ports() {
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]);
    const ports = [];
    const next = () => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => {
      ports.push(s.address().port); s.close(() => ports.length < n ? next() : console.log(ports.join(" "))); }); };
    next();' "$1"
}

# stop_process PID: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it.
stop_process() {
  local pid=$1
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# wait_for_health BASE_URL PID: until BASE_URL/health answers (20 s at most); 1 if the process
# exits or the time runs out.
wait_for_health() {
  local base=$1 pid=$2
  for _ in $(seq 100); do
    curl -fsS --max-time 2 "$base/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# ensure_node_modules DIR: the packages of DIR's package-lock.json installed (npm ci), once, by
# whichever runner asks first. The runners run side by side (ctest -j) and npm ci empties
# node_modules before it fills it, so the check and the install happen under one lock.
# node_modules/.package-lock.json is the last thing npm writes: its presence, newer than the lock
# file, means a complete install.
ensure_node_modules() {
  local dir=$1
  (
    flock 9
    local installed=$dir/node_modules/.package-lock.json
    if [[ ! -f $installed || $dir/package-lock.json -nt $installed ]]; then
      echo "npm ci in $dir"
      cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error
    fi
  ) 9>"$dir/.npm-install.lock"
}

# require_build_and_tools PACSNODE GENCORPUS: what every runner needs, or the runner's `fail`.
require_build_and_tools() {
  [[ -x $1 ]] || fail "no $1 (build it first)"
  [[ -x $2 ]] || fail "no $2 (build target pacsnode-gencorpus)"
  command -v node >/dev/null || fail "node is missing (scripts/setup.sh installs nodejs)"
  command -v storescu >/dev/null || fail "storescu is missing (dcmtk)"
}
