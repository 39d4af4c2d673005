#!/usr/bin/env bash
# Publish throughput of one node on Redis against one node on SQLite, interleaved in one run so the machine's load is
# shared alike; optionally also a previous build on Redis (PREV_SWITCHBOARD_DLL). Each target gets its own redis-server
# (AOF on, appendfsync everysec) or SQLite file in a temp dir.
#
#   bench/redis-publish.sh     (env: ROUNDS=2 DURATION=10 PUBLISHERS=16 PREV_SWITCHBOARD_DLL=)
#
# Prints events/s, ack p99 and server CPU per event for each target and round, then the Redis/SQLite ratio.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${ROUNDS:-2}"
duration="${DURATION:-10}"
publishers="${PUBLISHERS:-16}"
prev_dll="${PREV_SWITCHBOARD_DLL:-}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-redis-publish.XXXXXX")"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export Switchboard__Limits__MaxConnectionsPerIp=0 Switchboard__Limits__RequestsPerSecondPerIp=0

timeout 900 dotnet build "$repo/src/Switchboard" -c Release -nologo -v quiet >/dev/null
timeout 600 dotnet build "$repo/bench/Switchboard.Bench" -c Release -nologo -v quiet >/dev/null
server_dll="${SWITCHBOARD_DLL:-$repo/src/Switchboard/bin/Release/net10.0/switchboard.dll}"
bench_dll="$repo/bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll"
free_port() { timeout 30 dotnet "$bench_dll" free-port; }

# run_target NAME DLL STORE -> one line: name events/s ackp99 us/event
run_target() {
  local name=$1 dll=$2 store=$3 port url rport="" rpid="" spid
  port="$(free_port)"; url="http://127.0.0.1:$port"
  if [[ $store == redis ]]; then
    rport="$(free_port)"; mkdir -p "$tmp/r$rport"
    redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/r$rport" --appendonly yes --appendfsync everysec --save '' >/dev/null 2>&1 &
    rpid=$!; pids+=("$rpid")
    for _ in $(seq 1 100); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    dotnet "$dll" serve --urls "$url" --store redis --redis "127.0.0.1:$rport" >"$tmp/$name.log" 2>&1 &
  else
    dotnet "$dll" serve --urls "$url" --store sqlite --data "$tmp/$name-$port.db" >"$tmp/$name.log" 2>&1 &
  fi
  spid=$!; pids+=("$spid")
  for _ in $(seq 1 600); do grep -q "listening on $url" "$tmp/$name.log" 2>/dev/null && break; sleep 0.1; done
  timeout $((duration * 3 + 60)) dotnet "$bench_dll" publish --url "$url" --publishers "$publishers" --duration "$duration" \
    --warmup 3 --server-pid "$spid" --topic "bench.pub.$name" --results-dir "$tmp" >"$tmp/$name.bench" 2>&1
  local eps p99 cpu
  eps=$(grep -E '^\| events/s' "$tmp/$name.bench" | awk -F'|' '{gsub(/[ ,]/,"",$3); print $3}')
  p99=$(grep -E '^\| ack p99 ms' "$tmp/$name.bench" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  cpu=$(grep -E '^\| server cpu \(cores\)' "$tmp/$name.bench" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  if [[ -n $rport ]]; then
    local calls
    calls=$(redis-cli -p "$rport" info commandstats | grep -oE 'cmdstat_evalsha:calls=[0-9]+' | cut -d= -f2)
    echo "$name $eps $p99 $cpu evalsha=$calls"
  else
    echo "$name $eps $p99 $cpu"
  fi
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
  if [[ -n $rpid ]]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
}

echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $publishers publishers, ${duration}s per target"
echo "# target events/s ack-p99-ms server-cores [evalsha calls]"
for round in $(seq 1 "$rounds"); do
  sqlite=$(run_target "sqlite-$round" "$server_dll" sqlite); echo "$sqlite"
  redis=$(run_target "redis-$round" "$server_dll" redis); echo "$redis"
  if [[ -n $prev_dll ]]; then run_target "prev-redis-$round" "$prev_dll" redis; fi
  awk -v s="${sqlite#* }" -v r="${redis#* }" 'BEGIN { split(s, a, " "); split(r, b, " "); printf "round ratio redis/sqlite %.2f\n", b[1] / a[1] }'
done
echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg)"
