#!/usr/bin/env bash
# Builds the server and the bench tool in Release, starts a private server on a free loopback port
# with a throwaway SQLite file, runs the standard benchmark set, then stops the server.
#
#   bench/run.sh [--duration S] [--warmup S] [--rate R] [--subscribers N] [--fanout-duration S]
#
# Environment overrides (same meaning as the flags): BENCH_DURATION (10), BENCH_WARMUP (2),
# FANOUT_RATE (200), FANOUT_SUBSCRIBERS (1000), FANOUT_DURATION (= BENCH_DURATION).
# SWITCHBOARD_DLL=path skips building src/Switchboard and runs that server dll instead.
# KEEP_TMP=1 keeps the temp dir (server log, db) for inspection.
# Results: bench/results/<mode>-<utc>.json, plus the tables on stdout.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"

duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
rate="${FANOUT_RATE:-200}"
subscribers="${FANOUT_SUBSCRIBERS:-1000}"
fanout_duration="${FANOUT_DURATION:-}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --subscribers) subscribers="$2"; shift 2 ;;
    --fanout-duration) fanout_duration="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
fanout_duration="${fanout_duration:-$duration}"

# Integer seconds for `timeout` budgets (durations may be fractional).
ceil() { awk -v x="$1" 'BEGIN { n = int(x); if (n < x) n++; print n }'; }

log() { echo "[run.sh $(date -u +%H:%M:%S)] $*" >&2; }

# 1,000 SSE subscribers need ~1,000 sockets in the bench process (and as many in the server).
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt 65536 ]]; then
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
log "open files limit: $(ulimit -n)"
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt $((subscribers + 256)) ]]; then
  log "warning: ulimit -n $(ulimit -n) is too low for $subscribers subscribers"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

tmp="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")"
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    log "stopping server (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "server ignored SIGTERM for 10 s; killing"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

cleanup() {
  local rc=$?
  stop_server
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n "${SWITCHBOARD_DLL:-}" ]]; then
  server_dll="$SWITCHBOARD_DLL"
else
  log "building src/Switchboard (Release)"
  timeout 900 dotnet build "$repo/src/Switchboard" -c Release -nologo -v quiet
  server_dll="$repo/src/Switchboard/bin/Release/net10.0/switchboard.dll"
fi
log "building bench/Switchboard.Bench (Release)"
timeout 600 dotnet build "$repo/bench/Switchboard.Bench" -c Release -nologo -v quiet
bench_dll="$repo/bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll"
[[ -f "$server_dll" ]] || { echo "run.sh: server dll not found: $server_dll" >&2; exit 1; }

port="$(timeout 30 dotnet "$bench_dll" free-port)"
url="http://127.0.0.1:$port"
server_log="$tmp/server.log"
log "starting server on $url (log: $server_log)"
dotnet "$server_dll" serve --urls "$url" --data "$tmp/bench.db" --store sqlite >"$server_log" 2>&1 &
server_pid=$!

ready=0
for _ in $(seq 1 600); do   # 60 s
  if grep -q "listening on $url" "$server_log" 2>/dev/null; then ready=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ "$ready" != 1 ]]; then
  echo "run.sh: server did not report 'listening on $url'; last log lines:" >&2
  tail -n 40 "$server_log" >&2 || true
  exit 1
fi
log "server ready"

failures=0
step() {
  local name="$1" budget="$2"; shift 2
  log "step: $name (timeout ${budget}s)"
  if ! timeout --kill-after=10 "$budget" dotnet "$bench_dll" "$@" --results-dir "$repo/bench/results" --server-pid "$server_pid"; then
    log "step FAILED: $name"
    failures=$((failures + 1))
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: server exited during '$name'; last log lines:" >&2
    tail -n 40 "$server_log" >&2 || true
    exit 1
  fi
}

pub_budget=$(( $(ceil "$duration") + $(ceil "$warmup") + 60 ))
# Connect (<= 60 s) + warmup + measure + drain (10 s) + slack.
fan_budget=$(( $(ceil "$fanout_duration") + $(ceil "$warmup") + 150 ))

step "publish x1" "$pub_budget" publish --url "$url" --publishers 1 --duration "$duration" --warmup "$warmup"
step "publish x16" "$pub_budget" publish --url "$url" --publishers 16 --duration "$duration" --warmup "$warmup"
step "fanout ${subscribers} subs @ ${rate}/s" "$fan_budget" fanout --url "$url" --subscribers "$subscribers" --rate "$rate" \
  --duration "$fanout_duration" --warmup "$warmup"

stop_server
if [[ "$failures" -gt 0 ]]; then
  log "$failures step(s) failed; server log tail:"
  tail -n 40 "$server_log" >&2 || true
  exit 1
fi
log "done; results in $repo/bench/results"
