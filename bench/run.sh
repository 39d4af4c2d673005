#!/usr/bin/env bash
# Builds the server and the bench tool in Release, starts a private server on a free loopback port
# with a throwaway SQLite file, runs the selected benchmark steps, then stops the server.
#
#   bench/run.sh [--steps LIST] [--duration S] [--warmup S] [--rate R] [--subscribers N] [--fanout-duration S]
#
# Steps (BENCH_STEPS or --steps, comma-separated; default "publish,sse,ws"):
#   publish   publish x1 and x16, and GET /v1/health x16 from the same client as the reference
#   sse       SSE fanout, FANOUT_SUBSCRIBERS (1000) @ FANOUT_RATE (200)/s
#   ws        ws-small + ws-large
#   ws-small  ws-fanout, WS_SUBSCRIBERS (1000) @ WS_RATE (200)/s
#   ws-large  ws-fanout --idle-memory, WS_LARGE_SUBSCRIBERS (10000) @ WS_LARGE_RATE (20)/s, on a fresh server
#   webhooks  webhooks, WH_ENDPOINTS (100) endpoints on one topic, instant receiver and a WH_DELAY_MS (50) ms
#             receiver, at the most the hub sustains (WH_RATE=0); the server then allows loopback http targets
#   jobs      jobs, JOBS_WORKERS (8) HTTP workers claiming bench.noop and completing at once, JOBS_SUBMITTERS (4)
#             submitters keeping at most JOBS_OUTSTANDING (64) jobs unfinished, on a fresh server
#   config    config-herd, CONFIG_POLLERS (5000) held long polls on one app, one PUT, on a fresh server
# Delivery-engine steps (issue 13; each point on a fresh server, DE_DURATION (10) s, DE_WARMUP (2) s):
#   distinct-topics  N subscribers each on its own topic user.<i>, DT_RATE (1000) events/s to random ones, for N in
#             DT_SIZES (100,1000,10000,18000; 18000 only if ulimit -n allows), SSE and WebSocket (DT_TRANSPORTS),
#             on the DT_TARGETS (sqlite); more than 10,000 subscribers are split over load processes (--shard)
#   mixed     one hot topic with MIXED_HOT (1000) subscribers at MIXED_RATE (0 = max) events/s, without and then
#             with MIXED_IDLE (15000) idle subscribers on other topics, SSE and WebSocket (MIXED_TRANSPORTS)
#   efficiency  EFF_SUBSCRIBERS (1000) on one topic at EFF_RATE (200)/s on every EFF_TARGETS
#             (sqlite,memory,raw,signalr,prev), SSE and WebSocket (SignalR: WebSocket only); then the steady-latency
#             point: 1000 subscribers at STEADY_RATE (50)/s on STEADY_TARGETS (sqlite,memory,raw)
#   idle      IDLE_CONNECTIONS (10000) idle subscribers on their own topics, SSE and WebSocket, on IDLE_TARGETS
#             (sqlite,raw; prev too with PREV_SWITCHBOARD_DLL), IDLE_TRANSPORTS (sse ws longpoll; a held long poll
#             on the hub only): server KiB per connection
#             (forced GC) and idle CPU over IDLE_SECONDS (20)
#   Targets: sqlite / memory = this tree's server with that store; raw = bench/References/RawKestrel;
#   signalr = bench/References/SignalRHub; prev = the server of PREV_SWITCHBOARD_DLL (with SQLite), or, with
#   PREV_COMMIT (e.g. 44550b4) and no dll, that commit built from `git archive` into the temp dir.
# Environment overrides (same meaning as the flags): BENCH_DURATION (10), BENCH_WARMUP (2),
# FANOUT_RATE (200), FANOUT_SUBSCRIBERS (1000), FANOUT_DURATION (= BENCH_DURATION),
# FANOUT_PUBLISHERS (32), WS_DURATION (= BENCH_DURATION), WS_PUBLISHERS (32), WS_IDLE_SECONDS (5), WS_CONNECT_TIMEOUT (120),
# WH_ENDPOINTS (100), WH_DELAY_MS (50), WH_RATE (0 = as fast as deliveries arrive), WH_DURATION (= BENCH_DURATION),
# JOBS_WORKERS (8), JOBS_SUBMITTERS (4), JOBS_OUTSTANDING (64), JOBS_DURATION (= BENCH_DURATION),
# JOBS_LOOP (combined: each claim completes the job before it; separate: claim, then complete; use separate
# against a main from before 2026-12-04, which has no "complete" in a claim), JOBS_RATE (0: closed loop; else jobs/s
# offered by the submitters in an open loop; the bench's own send lateness is reported beside the latency),
# CONFIG_POLLERS (5000), CONFIG_WAIT (60), CONFIG_SETTLE (3), CONFIG_RUNS (1: herds in a row on the same server).
# The server gets Switchboard__WebSockets__MaxConnections=20000 unless already set, and the open-files
# limit is raised to the hard limit for both processes.
# SWITCHBOARD_DLL=path skips building src/Switchboard and runs that server dll instead.
# KEEP_TMP=1 keeps the temp dir (server logs, db) for inspection.
# Results: bench/results/<mode>-<utc>.json, plus the tables on stdout.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"

duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
rate="${FANOUT_RATE:-200}"
subscribers="${FANOUT_SUBSCRIBERS:-1000}"
fanout_duration="${FANOUT_DURATION:-}"
steps="${BENCH_STEPS:-publish,sse,ws}"
ws_subscribers="${WS_SUBSCRIBERS:-1000}"
ws_rate="${WS_RATE:-200}"
ws_large_subscribers="${WS_LARGE_SUBSCRIBERS:-10000}"
ws_large_rate="${WS_LARGE_RATE:-20}"
ws_publishers="${WS_PUBLISHERS:-32}"
# Closed-loop publishers wait for their acks, and acks slow down while a fan-out wave is written, so the
# SSE step gets as many publishers as the WebSocket steps, for a like-for-like comparison.
fanout_publishers="${FANOUT_PUBLISHERS:-32}"
ws_duration="${WS_DURATION:-}"
ws_idle_seconds="${WS_IDLE_SECONDS:-5}"
ws_connect_timeout="${WS_CONNECT_TIMEOUT:-120}"
wh_endpoints="${WH_ENDPOINTS:-100}"
wh_delay_ms="${WH_DELAY_MS:-50}"
wh_rate="${WH_RATE:-0}"
wh_duration="${WH_DURATION:-}"
jobs_workers="${JOBS_WORKERS:-8}"
jobs_submitters="${JOBS_SUBMITTERS:-4}"
jobs_outstanding="${JOBS_OUTSTANDING:-64}"
jobs_duration="${JOBS_DURATION:-}"
jobs_loop="${JOBS_LOOP:-combined}"
jobs_rate="${JOBS_RATE:-0}"
config_pollers="${CONFIG_POLLERS:-5000}"
config_wait="${CONFIG_WAIT:-60}"
config_settle="${CONFIG_SETTLE:-3}"
config_runs="${CONFIG_RUNS:-1}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --subscribers) subscribers="$2"; shift 2 ;;
    --fanout-duration) fanout_duration="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^# Results/p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
fanout_duration="${fanout_duration:-$duration}"
ws_duration="${ws_duration:-$duration}"
wh_duration="${wh_duration:-$duration}"
jobs_duration="${jobs_duration:-$duration}"

# Expand and check the step list up front, so a typo fails before minutes of building.
run_publish=0 run_sse=0 run_ws_small=0 run_ws_large=0 run_webhooks=0 run_jobs=0 run_config=0
run_distinct=0 run_mixed=0 run_efficiency=0 run_idle=0
IFS=',' read -r -a step_list <<<"$steps"
for s in "${step_list[@]}"; do
  case "${s// /}" in
    publish) run_publish=1 ;;
    sse|fanout) run_sse=1 ;;
    ws) run_ws_small=1; run_ws_large=1 ;;
    ws-small) run_ws_small=1 ;;
    ws-large) run_ws_large=1 ;;
    webhooks) run_webhooks=1 ;;
    jobs) run_jobs=1 ;;
    config|config-herd) run_config=1 ;;
    distinct-topics) run_distinct=1 ;;
    mixed) run_mixed=1 ;;
    efficiency) run_efficiency=1 ;;
    idle) run_idle=1 ;;
    engine) run_distinct=1; run_mixed=1; run_efficiency=1; run_idle=1 ;;
    "") ;;
    *) echo "run.sh: unknown step '$s' (expected publish, sse, ws, ws-small, ws-large, webhooks, jobs, config, distinct-topics, mixed, efficiency, idle, engine)" >&2; exit 2 ;;
  esac
done
run_engine=$((run_distinct + run_mixed + run_efficiency + run_idle))
if [[ $((run_publish + run_sse + run_ws_small + run_ws_large + run_webhooks + run_jobs + run_config + run_engine)) -eq 0 ]]; then
  echo "run.sh: no steps selected" >&2
  exit 2
fi

# Integer seconds for `timeout` budgets (durations may be fractional).
ceil() { awk -v x="$1" 'BEGIN { n = int(x); if (n < x) n++; print n }'; }

log() { echo "[run.sh $(date -u +%H:%M:%S)] $*" >&2; }

# Every subscriber is a socket in the bench process and another in the server (10,000 WebSocket
# subscribers: ~10,000 each). Raise the soft limit as far as the hard limit allows; both inherit it.
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt 65536 ]]; then
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
open_files="$(ulimit -n)"
log "open files limit: $open_files; steps: $steps"
max_subscribers=0
[[ "$run_sse" == 1 && "$subscribers" -gt "$max_subscribers" ]] && max_subscribers="$subscribers"
[[ "$run_ws_small" == 1 && "$ws_subscribers" -gt "$max_subscribers" ]] && max_subscribers="$ws_subscribers"
[[ "$run_ws_large" == 1 && "$ws_large_subscribers" -gt "$max_subscribers" ]] && max_subscribers="$ws_large_subscribers"
[[ "$run_config" == 1 && "$config_pollers" -gt "$max_subscribers" ]] && max_subscribers="$config_pollers"
[[ "$run_mixed" == 1 && $(( ${MIXED_HOT:-1000} + ${MIXED_IDLE:-15000} )) -gt "$max_subscribers" ]] && max_subscribers=$(( ${MIXED_HOT:-1000} + ${MIXED_IDLE:-15000} ))
[[ "$run_idle" == 1 && "${IDLE_CONNECTIONS:-10000}" -gt "$max_subscribers" ]] && max_subscribers="${IDLE_CONNECTIONS:-10000}"
if [[ "$open_files" != unlimited && "$open_files" -lt $((max_subscribers + 512)) ]]; then
  echo "run.sh: ulimit -n $open_files is too low for $max_subscribers subscribers (need $((max_subscribers + 512)))" >&2
  exit 1
fi

# Upgraded connections are limited by the server's own option (default 10,000): leave headroom.
export Switchboard__WebSockets__MaxConnections="${Switchboard__WebSockets__MaxConnections:-20000}"
# Every load client shares 127.0.0.1, so the per-IP connection and request-rate caps (meant for real networks)
# are off, and the server-wide connection cap has the same headroom.
export Switchboard__Limits__MaxConnections="${Switchboard__Limits__MaxConnections:-25000}"
export Switchboard__Limits__MaxConnectionsPerIp="${Switchboard__Limits__MaxConnectionsPerIp:-0}"
export Switchboard__Limits__RequestsPerSecondPerIp="${Switchboard__Limits__RequestsPerSecondPerIp:-0}"
# The webhooks step's receiver runs in the bench process on 127.0.0.1 over plain http, which the hub refuses
# by default (SSRF protection; https outside Development). Only servers started for that step get these.
webhook_server_env=(
  "Switchboard__Webhooks__AllowedNetworks__0=${Switchboard__Webhooks__AllowedNetworks__0:-127.0.0.0/8}"
  "Switchboard__Webhooks__AllowHttp=${Switchboard__Webhooks__AllowHttp:-true}"
)
server_env=()

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
raw_dll="$repo/bench/References/RawKestrel/bin/Release/net10.0/RawKestrel.dll"
signalr_dll="$repo/bench/References/SignalRHub/bin/Release/net10.0/SignalRHub.dll"
prev_dll="${PREV_SWITCHBOARD_DLL:-}"
if [[ "$run_engine" -gt 0 ]]; then
  log "building bench/References (Release)"
  timeout 600 dotnet build "$repo/bench/References/RawKestrel" -c Release -nologo -v quiet
  timeout 600 dotnet build "$repo/bench/References/SignalRHub" -c Release -nologo -v quiet
  if [[ -z "$prev_dll" && -n "${PREV_COMMIT:-}" && ( "$run_efficiency" == 1 || "$run_idle" == 1 ) ]]; then
    # The previous main, built outside the work tree (git archive), so nothing of it lands in the repo.
    log "building the previous main ($PREV_COMMIT) in $tmp/prev"
    mkdir -p "$tmp/prev-src"
    git -C "$repo" archive "$PREV_COMMIT" | tar -x -C "$tmp/prev-src"
    timeout 900 dotnet publish "$tmp/prev-src/src/Switchboard" -c Release -o "$tmp/prev" -nologo -v quiet
    prev_dll="$tmp/prev/switchboard.dll"
  fi
fi
bench_dll="$repo/bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll"
[[ -f "$server_dll" ]] || { echo "run.sh: server dll not found: $server_dll" >&2; exit 1; }

server_count=0
server_log=""
url=""

# Starts a fresh server (own port, db and log) and waits until it listens. $1: sqlite (default), memory,
# raw (RawKestrel), signalr (SignalRHub) or prev (PREV_SWITCHBOARD_DLL / PREV_COMMIT, SQLite).
start_server() {
  local kind="${1:-sqlite}"
  server_count=$((server_count + 1))
  local port
  port="$(timeout 30 dotnet "$bench_dll" free-port)"
  url="http://127.0.0.1:$port"
  server_log="$tmp/server-$server_count.log"
  log "starting $kind server on $url (log: $server_log, WebSockets.MaxConnections=$Switchboard__WebSockets__MaxConnections)"
  case "$kind" in
    sqlite|memory) env "${server_env[@]}" dotnet "$server_dll" serve --urls "$url" --data "$tmp/bench-$server_count.db" --store "$kind" >"$server_log" 2>&1 & ;;
    prev)
      [[ -n "$prev_dll" && -f "$prev_dll" ]] || { echo "run.sh: target prev needs PREV_SWITCHBOARD_DLL or PREV_COMMIT" >&2; exit 1; }
      env "${server_env[@]}" dotnet "$prev_dll" serve --urls "$url" --data "$tmp/bench-$server_count.db" --store sqlite >"$server_log" 2>&1 & ;;
    raw) dotnet "$raw_dll" --urls "$url" >"$server_log" 2>&1 & ;;
    signalr) dotnet "$signalr_dll" --urls "$url" >"$server_log" 2>&1 & ;;
    *) echo "run.sh: unknown target '$kind'" >&2; exit 2 ;;
  esac
  server_pid=$!

  local ready=0
  for _ in $(seq 1 600); do   # 60 s
    if grep -q "listening on $url" "$server_log" 2>/dev/null; then ready=1; break; fi
    if [[ "$kind" == raw || "$kind" == signalr ]] && curl -fs "$url/v1/health" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ "$ready" != 1 ]]; then
    echo "run.sh: server did not report 'listening on $url'; last log lines:" >&2
    tail -n 40 "$server_log" >&2 || true
    exit 1
  fi
  log "server ready (pid $server_pid); load: $(uptime | sed 's/.*load average/load average/')"
}

failures=0
step() {
  local name="$1" budget="$2"; shift 2
  log "step: $name (timeout ${budget}s); $(uptime | sed 's/.*load average/load average/')"
  if ! timeout --kill-after=10 "$budget" dotnet "$bench_dll" "$@" --results-dir "$repo/bench/results" --server-pid "$server_pid"; then
    log "step FAILED: $name"
    failures=$((failures + 1))
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: server exited during '$name'; last log lines:" >&2
    tail -n 40 "$server_log" >&2 || true
    exit 1
  fi
  # Server-side trouble (failed subscriptions, exceptions) shows in its log, not in the bench's numbers.
  local problems
  problems="$(grep -c -E '^(fail|crit):' "$server_log" || true)"
  if [[ "$problems" -gt 0 ]]; then
    log "server log ($server_log) has $problems fail/crit entries so far; last one:"
    grep -E -A3 '^(fail|crit):' "$server_log" | tail -n 4 >&2 || true
  fi
}

pub_budget=$(( $(ceil "$duration") + $(ceil "$warmup") + 60 ))
# Connect (<= 60 s) + warmup + measure + drain (10 s) + slack.
fan_budget=$(( $(ceil "$fanout_duration") + $(ceil "$warmup") + 150 ))
# Connect + warmup + measure + drain (10 s) + stop (10 s) + slack.
ws_small_budget=$(( 60 + $(ceil "$ws_duration") + $(ceil "$warmup") + 90 ))
# As above with the long connect timeout, plus the idle-memory phases (warm-up, forced GCs, settling:
# at most ~150 s, normally ~20 s) and the idle time.
ws_large_budget=$(( $(ceil "$ws_connect_timeout") + 230 + 2 * $(ceil "$ws_idle_seconds") + $(ceil "$ws_duration") + $(ceil "$warmup") + 60 ))
# Register + warmup + measure + drain (30 s) + read counts and delete + slack.
wh_budget=$(( $(ceil "$wh_duration") + $(ceil "$warmup") + 150 ))
# Warmup + measure + drain (30 s) + read-back + slack.
jobs_budget=$(( $(ceil "$jobs_duration") + $(ceil "$warmup") + 180 ))
# Connect + settle + answers (30 s) + slack; the hold itself bounds connect + settle.
config_budget=$(( config_wait + 120 ))

# ws-large, webhooks, jobs and config start servers of their own.
if [[ $((run_publish + run_sse + run_ws_small)) -gt 0 ]]; then
  start_server
fi
if [[ "$run_publish" == 1 ]]; then
  step "publish x1" "$pub_budget" publish --url "$url" --publishers 1 --duration "$duration" --warmup "$warmup"
  step "publish x16" "$pub_budget" publish --url "$url" --publishers 16 --duration "$duration" --warmup "$warmup"
  # The reference: the same client and concurrency sending a bare GET /v1/health (issue 17: publish >= 0.7x of it).
  step "health x16" "$pub_budget" publish --url "$url" --publishers 16 --duration "$duration" --warmup "$warmup" --health true
fi
if [[ "$run_sse" == 1 ]]; then
  step "fanout ${subscribers} subs @ ${rate}/s" "$fan_budget" fanout --url "$url" --subscribers "$subscribers" --rate "$rate" \
    --publishers "$fanout_publishers" --duration "$fanout_duration" --warmup "$warmup"
fi
if [[ "$run_ws_small" == 1 ]]; then
  step "ws-fanout ${ws_subscribers} subs @ ${ws_rate}/s" "$ws_small_budget" ws-fanout --url "$url" --subscribers "$ws_subscribers" \
    --rate "$ws_rate" --publishers "$ws_publishers" --duration "$ws_duration" --warmup "$warmup"
fi
if [[ "$run_ws_large" == 1 ]]; then
  # The idle-memory baseline must not inherit memory the earlier steps left in the server's pools.
  stop_server
  start_server
  step "ws-fanout ${ws_large_subscribers} subs @ ${ws_large_rate}/s + idle memory" "$ws_large_budget" ws-fanout --url "$url" \
    --subscribers "$ws_large_subscribers" --rate "$ws_large_rate" --publishers "$ws_publishers" --duration "$ws_duration" \
    --warmup "$warmup" --connect-timeout "$ws_connect_timeout" --idle-memory --idle-seconds "$ws_idle_seconds"
fi
if [[ "$run_webhooks" == 1 ]]; then
  # A fresh server that may deliver to the bench's loopback receiver. Each run deletes its endpoints again.
  stop_server
  server_env=("${webhook_server_env[@]}")
  start_server
  step "webhooks ${wh_endpoints} endpoints, instant receiver" "$wh_budget" webhooks --url "$url" --endpoints "$wh_endpoints" \
    --rate "$wh_rate" --duration "$wh_duration" --warmup "$warmup"
  step "webhooks ${wh_endpoints} endpoints, ${wh_delay_ms} ms receiver" "$wh_budget" webhooks --url "$url" --endpoints "$wh_endpoints" \
    --rate "$wh_rate" --duration "$wh_duration" --warmup "$warmup" --receiver-delay-ms "$wh_delay_ms"
  server_env=()
fi
if [[ "$run_jobs" == 1 ]]; then
  stop_server
  start_server
  step "jobs ${jobs_workers} workers, no-op" "$jobs_budget" jobs --url "$url" --workers "$jobs_workers" --submitters "$jobs_submitters" \
    --max-outstanding "$jobs_outstanding" --duration "$jobs_duration" --warmup "$warmup" --worker-loop "$jobs_loop" --rate "$jobs_rate"
fi
if [[ "$run_config" == 1 ]]; then
  stop_server
  start_server
  for i in $(seq 1 "$config_runs"); do
    step "config-herd ${config_pollers} long polls (${i}/${config_runs})" "$config_budget" config-herd --url "$url" \
      --pollers "$config_pollers" --wait "$config_wait" --settle "$config_settle"
  done
fi

if [[ "$run_engine" -gt 0 ]]; then
  de_duration="${DE_DURATION:-10}"
  de_warmup="${DE_WARMUP:-2}"
  de_budget=$(( 150 + $(ceil "$de_duration") + $(ceil "$de_warmup") ))
  loadavg() { sed 's/ [0-9]*\/.*//' /proc/loadavg; }
  # One fan-out point: $1 label, $2 target, $3 transport (sse|ws|signalr), then extra bench arguments.
  point() {
    local label="$1" target="$2" transport="$3"; shift 3
    stop_server
    start_server "$target"
    local mode=fanout extra=()
    case "$transport" in
      ws) mode=ws-fanout ;;
      signalr) mode=ws-fanout; extra=(--protocol signalr) ;;
      longpoll) extra=(--client longpoll) ;;
    esac
    log "point: $label [$target $transport] load before: $(loadavg)"
    local budget="$de_budget"
    [[ " $* " == *" --idle-memory "* ]] && budget=$(( de_budget + 90 + 2 * $(ceil "${IDLE_SECONDS:-20}") )) # a midpoint and an end, each idle
    step "$label [$target $transport]" "$budget" "$mode" --url "$url" --duration "$de_duration" --warmup "$de_warmup" "${extra[@]}" "$@"
    log "point: $label [$target $transport] load after: $(loadavg)"
  }
  transports_for() { [[ "$1" == signalr ]] && echo signalr || echo "$2"; }

  if [[ "$run_distinct" == 1 ]]; then
    dt_rate="${DT_RATE:-1000}"
    dt_publishers="${DT_PUBLISHERS:-16}"
    for n in ${DT_SIZES:-100 1000 10000 18000}; do
      n="${n//,/}"
      if [[ "$open_files" != unlimited && "$open_files" -lt $((n + 512)) ]]; then
        log "distinct-topics: skipping N=$n (ulimit -n $open_files)"; continue
      fi
      for target in ${DT_TARGETS:-sqlite}; do
        for tr in ${DT_TRANSPORTS:-sse ws}; do
          tr="$(transports_for "$target" "$tr")"
          shards=$(( (n + 9999) / 10000 ))
          if [[ "$shards" -le 1 ]]; then
            point "distinct-topics N=$n @ ${dt_rate}/s" "$target" "$tr" --subscribers "$n" --topic-mode distinct \
              --rate "$dt_rate" --publishers "$dt_publishers" --connect-timeout 120
          else
            # Several load processes, each below 10,000 sockets, publishing from the same wall-clock instant.
            stop_server
            start_server "$target"
            mode=fanout; [[ "$tr" == ws ]] && mode=ws-fanout
            at=$(( $(date +%s%3N) + 1000 * ${DT_SHARD_CONNECT:-$(( 20 + n / 400 ))} ))
            log "point: distinct-topics N=$n [$target $tr] in $shards load processes; load before: $(loadavg)"
            pids=()
            for k in $(seq 0 $((shards - 1))); do
              timeout --kill-after=10 $((de_budget + 120)) dotnet "$bench_dll" "$mode" --url "$url" --subscribers "$n" --topic-mode distinct \
                --rate "$(awk -v r="$dt_rate" -v m="$shards" 'BEGIN { print r / m }')" --publishers "$dt_publishers" \
                --duration "$de_duration" --warmup "$de_warmup" --connect-timeout 150 --shard "$k/$shards" --publish-at "$at" \
                --results-dir "$repo/bench/results" --server-pid "$server_pid" >"$tmp/shard-$k.out" 2>&1 &
              pids+=($!)
            done
            for k in "${!pids[@]}"; do
              wait "${pids[$k]}" || { log "shard $k FAILED"; failures=$((failures + 1)); }
              echo "---- shard $k/$shards ----"; cat "$tmp/shard-$k.out"
            done
            log "point: distinct-topics N=$n [$target $tr] load after: $(loadavg)"
          fi
        done
      done
    done
  fi

  if [[ "$run_mixed" == 1 ]]; then
    for tr in ${MIXED_TRANSPORTS:-sse ws}; do
      for idle in 0 "${MIXED_IDLE:-15000}"; do
        point "mixed hot ${MIXED_HOT:-1000} + idle $idle" "${MIXED_TARGET:-sqlite}" "$tr" --subscribers "${MIXED_HOT:-1000}" \
          --idle-subscribers "$idle" --rate "${MIXED_RATE:-0}" --publishers "${MIXED_PUBLISHERS:-16}" --connect-timeout 150
      done
    done
  fi

  if [[ "$run_efficiency" == 1 ]]; then
    for target in ${EFF_TARGETS:-sqlite memory raw signalr prev}; do
      [[ "$target" == prev && -z "$prev_dll" ]] && { log "efficiency: no PREV_SWITCHBOARD_DLL/PREV_COMMIT; skipping prev"; continue; }
      for tr in sse ws; do
        [[ "$target" == signalr && "$tr" == sse ]] && continue
        point "efficiency ${EFF_SUBSCRIBERS:-1000} subs @ ${EFF_RATE:-200}/s" "$target" "$(transports_for "$target" "$tr")" \
          --subscribers "${EFF_SUBSCRIBERS:-1000}" --rate "${EFF_RATE:-200}" --publishers 32
      done
    done
    for target in ${STEADY_TARGETS:-sqlite memory raw}; do
      for tr in sse ws; do
        point "steady 1000 subs @ ${STEADY_RATE:-50}/s" "$target" "$tr" --subscribers 1000 --rate "${STEADY_RATE:-50}" --publishers 8
      done
    done
  fi

  if [[ "$run_idle" == 1 ]]; then
    for target in ${IDLE_TARGETS:-sqlite raw}; do
      [[ "$target" == prev && -z "$prev_dll" ]] && { log "idle: no PREV_SWITCHBOARD_DLL; skipping prev"; continue; }
      for tr in ${IDLE_TRANSPORTS:-sse ws longpoll}; do
        [[ "$tr" == longpoll && "$target" == raw ]] && continue # the raw reference serves streams only; its SSE figure is the bar
        point "idle ${IDLE_CONNECTIONS:-10000} connections" "$target" "$tr" --subscribers "${IDLE_CONNECTIONS:-10000}" --topic-mode distinct \
          --idle-memory --idle-seconds "${IDLE_SECONDS:-20}" --rate 10 --publishers 1 --connect-timeout 150
      done
    done
  fi
fi

stop_server
if [[ "$failures" -gt 0 ]]; then
  log "$failures step(s) failed; server log tail:"
  tail -n 40 "$server_log" >&2 || true
  exit 1
fi
log "done; results in $repo/bench/results"
