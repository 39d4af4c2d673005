#!/usr/bin/env bash
# Runs the whole Switchboard test suite the same way locally and in CI.
#
# Assumes a Debian 12 machine with the .NET 10 SDK and Node 20; everything else
# the tests need is installed here, because a fresh CI machine has nothing that
# was installed by hand.
#
# Ends with the line "N passed, N failed" (summed over every test project's TRX
# report) and exits non-zero if anything failed or `dotnet test` itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# A fresh directory per run, so TRX files from an earlier run are never counted.
# Under TestResults/ (gitignored) so the reports and log can be inspected afterwards.
RESULTS_DIR="${RESULTS_DIR:-$ROOT/TestResults/run}"
LOG_FILE="$RESULTS_DIR/dotnet-test.log"

# Problems found before/around the test run (npm, build, crashed test host).
# Each counts as one failed test, so the summary line never looks green when it isn't.
setup_failures=0

log() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    warn "not root and no sudo: cannot run '$*'"
    return 1
  fi
}

# ---------------------------------------------------------------------------
# 1. System packages: chromium (browser-client tests) and redis-server (the
#    Redis store's tests start their own redis-server on a free port). An install
#    failure is only a warning here; the tests that need them then fail with
#    their own message. `apt-get update` runs at most once, and only if something
#    is missing.
# ---------------------------------------------------------------------------
missing_pkgs=()
command -v chromium >/dev/null 2>&1 || missing_pkgs+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing_pkgs+=(redis-server)

if ((${#missing_pkgs[@]} > 0)); then
  log "Installing missing apt packages: ${missing_pkgs[*]}"
  if as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"; then
    log "Installed: ${missing_pkgs[*]}"
  else
    warn "could not install ${missing_pkgs[*]} via apt-get; continuing, since the current"
    warn "tests do not need them (tests that do will fail or skip with their own message)."
  fi
fi

# ---------------------------------------------------------------------------
# 2. Node dependencies for the peer-client scripts in tests/node (run by the
#    .NET tests). Reinstall only when node_modules is missing or the lockfile
#    changed since the last install (npm writes node_modules/.package-lock.json).
# ---------------------------------------------------------------------------
NODE_DIR="$ROOT/tests/node"
if [[ -f "$NODE_DIR/package.json" ]]; then
  marker="$NODE_DIR/node_modules/.package-lock.json"
  if [[ ! -d "$NODE_DIR/node_modules" || ! -f "$marker" ||
    "$NODE_DIR/package-lock.json" -nt "$marker" || "$NODE_DIR/package.json" -nt "$marker" ]]; then
    if [[ -f "$NODE_DIR/package-lock.json" ]]; then npm_cmd=(npm ci); else npm_cmd=(npm install); fi
    log "Installing Node test dependencies (${npm_cmd[*]}) in tests/node"
    # A failure here is counted, not fatal: the .NET suite still runs and reports
    # real numbers, and the Node-based tests will show what broke.
    if ! (cd "$NODE_DIR" && "${npm_cmd[@]}" --no-audit --no-fund); then
      warn "${npm_cmd[*]} failed in tests/node"
      setup_failures=$((setup_failures + 1))
    fi
  fi
fi

# ---------------------------------------------------------------------------
# 2b. The JavaScript client (clients/js): npm ci (typescript, and ws for its
#     node:test suite, which the .NET test JsClientTests runs against real hubs),
#     then tsc. The built dist/ is committed (the hub embeds it without npm), so a
#     dist that differs from what tsc makes now is stale: counted as a failure.
# ---------------------------------------------------------------------------
JS_DIR="$ROOT/clients/js"
if [[ -f "$JS_DIR/package.json" ]]; then
  log "Building the JavaScript client (npm ci, tsc) in clients/js"
  if ! (cd "$JS_DIR" && npm ci --no-audit --no-fund && npx tsc); then
    warn "npm ci or tsc failed in clients/js"
    setup_failures=$((setup_failures + 1))
  elif ! git -C "$ROOT" diff --exit-code --stat -- clients/js/dist; then
    warn "clients/js/dist is stale: run 'npx tsc' in clients/js and commit dist/"
    setup_failures=$((setup_failures + 1))
  fi
fi

# ---------------------------------------------------------------------------
# 3. The .NET test run. TRX reports (one per test project; the prefix keeps
#    their names unique) are the source of truth for the counts; console output
#    is also kept in a log file.
# ---------------------------------------------------------------------------
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log "dotnet test Switchboard.slnx -c Release (results in ${RESULTS_DIR#"$ROOT"/})"
# set +e around the pipeline: we want dotnet's own exit code (PIPESTATUS), not
# an immediate abort, so the summary line is always printed.
set +e
dotnet test Switchboard.slnx -c Release \
  --logger "trx;LogFilePrefix=r" \
  --results-directory "$RESULTS_DIR" \
  --blame-hang-timeout 15m --blame-hang-dump-type none \
  2>&1 | tee "$LOG_FILE"
dotnet_rc=${PIPESTATUS[0]}
set -e
# ^ --blame-hang-*: a single hung test is killed after 15 minutes instead of
#   eating CI's whole time budget; no dump, as that needs extra tooling.

# ---------------------------------------------------------------------------
# 4. Sum the <Counters .../> element of every TRX file. error/timeout/aborted
#    outcomes count as failures too: none of them is a pass.
# ---------------------------------------------------------------------------
# Prints the numeric value of attribute $1 in the XML element text $2 (0 if absent).
# The leading space keeps e.g. passed= from matching passedButRunAborted=.
trx_attr() {
  local value
  value=$(sed -n "s/.*[[:space:]]$1=\"\([0-9][0-9]*\)\".*/\1/p" <<<"$2")
  echo "${value:-0}"
}

passed=0
failed=0
trx_count=0
while IFS= read -r -d '' trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)
  if [[ -z "$counters" ]]; then
    warn "no <Counters> in ${trx#"$ROOT"/}; counting it as 1 failed"
    failed=$((failed + 1))
    continue
  fi
  trx_count=$((trx_count + 1))
  p=$(trx_attr passed "$counters")
  f=$(($(trx_attr failed "$counters") + $(trx_attr error "$counters") +
    $(trx_attr timeout "$counters") + $(trx_attr aborted "$counters")))
  log "$(basename "$trx"): $p passed, $f failed (total $(trx_attr total "$counters"))"
  passed=$((passed + p))
  failed=$((failed + f))
done < <(find "$RESULTS_DIR" -name '*.trx' -print0 | sort -z)

if ((trx_count == 0)); then
  # No report at all: the build (or test discovery) failed before any test ran.
  warn "no TRX report produced (build failure?); see $LOG_FILE"
  failed=$((failed + 1))
elif ((dotnet_rc != 0 && failed == 0)); then
  # dotnet test failed but no test did: e.g. one project failed to build or its
  # test host crashed. Count it so the summary agrees with the exit code.
  warn "dotnet test exited $dotnet_rc although no test failed; see $LOG_FILE"
  failed=$((failed + 1))
fi
failed=$((failed + setup_failures))

echo "$passed passed, $failed failed"
if ((failed > 0 || dotnet_rc != 0)); then
  exit 1
fi
