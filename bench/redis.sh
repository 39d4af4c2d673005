#!/usr/bin/env bash
# Publish throughput and SSE fan-out latency through Redis with 1 and 3 nodes, against SQLite on one node.
# Starts its own redis-server (AOF on, appendfsync everysec) on a free loopback port in a temp dir, and the nodes as
# `switchboard serve --store redis --redis 127.0.0.1:PORT` on free ports; everything is stopped at the end.
#
#   bench/redis.sh            (env: DURATION=10 PUBLISHERS=16 SUBSCRIBERS=600 RATE=200)
#
# Results: bench/results/<mode>-<utc>.json, plus the tables on stdout (docs/benchmarks.md quotes them).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-10}"
publishers="${PUBLISHERS:-16}"
subscribers="${SUBSCRIBERS:-600}"
rate="${RATE:-200}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-redis-bench.XXXXXX")"
pids=()

log() { echo "[redis.sh $(date -u +%H:%M:%S)] $*" >&2; }

stop_all() {
  if [[ -f "$tmp/pids" ]]; then
    mapfile -t -O "${#pids[@]}" pids <"$tmp/pids"
    rm -f "$tmp/pids"
  fi
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# Every load client shares 127.0.0.1, so the per-IP request-rate and connection caps (meant for real networks) are
# off for the nodes started here, as in run.sh.
export Switchboard__Limits__MaxConnectionsPerIp="${Switchboard__Limits__MaxConnectionsPerIp:-0}"
export Switchboard__Limits__RequestsPerSecondPerIp="${Switchboard__Limits__RequestsPerSecondPerIp:-0}"

command -v redis-server >/dev/null || { echo "redis.sh: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
log "building (Release)"
timeout 900 dotnet build "$repo/src/Switchboard" -c Release -nologo -v quiet
timeout 600 dotnet build "$repo/bench/Switchboard.Bench" -c Release -nologo -v quiet
server_dll="$repo/src/Switchboard/bin/Release/net10.0/switchboard.dll"
bench_dll="$repo/bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll"
free_port() { timeout 30 dotnet "$bench_dll" free-port; }

start_redis() {
  redis_port="$(free_port)"
  mkdir -p "$tmp/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly yes --appendfsync everysec --save '' >"$tmp/redis.log" 2>&1 &
  pids+=($!)
  # start_node runs in a command substitution (a subshell), where pids+= is lost: the file is what stop_all reads.
  echo $! >>"$tmp/pids"
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "redis.sh: redis-server did not start" >&2
  exit 1
}

# start_node STORE -> prints the node's URL once it listens
start_node() {
  local port url log_file
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  log_file="$tmp/node-$port.log"
  if [[ "$1" == redis ]]; then
    dotnet "$server_dll" serve --urls "$url" --store redis --redis "127.0.0.1:$redis_port" >"$log_file" 2>&1 &
  else
    dotnet "$server_dll" serve --urls "$url" --store sqlite --data "$tmp/bench-$port.db" >"$log_file" 2>&1 &
  fi
  pids+=($!)
  # start_node runs in a command substitution (a subshell), where pids+= is lost: the file is what stop_all reads.
  echo $! >>"$tmp/pids"
  for _ in $(seq 1 600); do
    grep -q "listening on $url" "$log_file" 2>/dev/null && { echo "$url"; return 0; }
    sleep 0.1
  done
  echo "redis.sh: node on $url did not start; log:" >&2
  cat "$log_file" >&2
  exit 1
}

bench() { timeout $((duration * 3 + 120)) dotnet "$bench_dll" "$@"; }

run_case() { # name store nodes
  local name="$1" store="$2" count="$3" urls=() extra=()
  log "case $name: $count node(s) on $store"
  [[ "$store" == redis ]] && start_redis
  for _ in $(seq 1 "$count"); do urls+=("$(start_node "$store")"); done
  if ((count > 1)); then extra=(--nodes "$(IFS=,; echo "${urls[*]:1}")"); fi
  bench publish --url "${urls[0]}" "${extra[@]}" --publishers "$publishers" --duration "$duration" --topic "bench.pub.$name"
  bench fanout --url "${urls[0]}" "${extra[@]}" --subscribers "$subscribers" --rate "$rate" --publishers 4 --duration "$duration" --topic "bench.fan.$name"
  stop_all
  rm -rf "$tmp/redis"
}

run_case sqlite-1 sqlite 1
run_case redis-1 redis 1
run_case redis-3 redis 3
log "done"
