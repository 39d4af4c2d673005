#!/usr/bin/env bash
# Steady idle CPU of 10,000 WebSocket subscribers, with a perf profile of the server while idle.
# usage: bench/idle-profile.sh <switchboard.dll | raw> <name>     (OUT=<folder> for the files; default /tmp)
# Needs a Release build of the bench and the raw reference (bench/run.sh builds both) and `perf`.
# Server settings come from the environment, e.g. Switchboard__WebSockets__KeepAliveInterval=01:00:00.
# SETTLE (30) is how many seconds after the last connection the 20 s window starts; SETTLE=0 profiles the window
# right after connecting, which the idle step of bench/run.sh measures.
# Read the profile with: perf report -i $OUT/<name>.perf --no-children --sort comm,symbol -g none
set -u
dll=$1 name=$2
B=$(cd "$(dirname "$0")/.." && pwd)/bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll
port=$(dotnet $B free-port); url=http://127.0.0.1:$port
rm -f ${OUT:-/tmp}/$name.db*
export Switchboard__WebSockets__MaxConnections=20000 Switchboard__Limits__MaxConnections=25000 Switchboard__Limits__MaxConnectionsPerIp=0 Switchboard__Limits__RequestsPerSecondPerIp=0
if [ $dll = raw ]; then DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet $(cd "$(dirname "$0")" && pwd)/References/RawKestrel/bin/Release/net10.0/RawKestrel.dll --urls $url > ${OUT:-/tmp}/$name.server.log 2>&1 &
else DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet $dll serve --urls $url --data ${OUT:-/tmp}/$name.db > ${OUT:-/tmp}/$name.server.log 2>&1 & fi
spid=$!
for i in $(seq 100); do curl -s -o /dev/null $url/ && break; sleep 0.2; done
dotnet $B ws-fanout --url $url --subscribers 10000 --topic-mode distinct --idle-memory --idle-seconds 60 --rate 10 --publishers 1 --connect-timeout 150 --duration 4 --warmup 1 --server-pid $spid --results-dir /tmp/prof > ${OUT:-/tmp}/$name.bench.log 2>&1 &
bpid=$!
for i in $(seq 900); do grep -q "idle subscriber(s) ready" ${OUT:-/tmp}/$name.bench.log && break; sleep 0.2; done
sleep ${SETTLE:-30}
t0=$(awk '{print $14+$15}' /proc/$spid/stat)
perf record -F 499 -g -p $spid -o ${OUT:-/tmp}/$name.perf -- sleep 20 > ${OUT:-/tmp}/$name.trace.log 2>&1
t1=$(awk '{print $14+$15}' /proc/$spid/stat)
echo "cpu over 20 s: $(( t1 - t0 )) ticks = $(echo "scale=3; ($t1-$t0)/100/20" | bc) cores"
wait $bpid
kill $spid; wait $spid 2>/dev/null
grep "idle: server cpu" ${OUT:-/tmp}/$name.bench.log
