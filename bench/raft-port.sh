#!/usr/bin/env bash
# One round of the Raft-port cost measurement: starts 3 nodes of the build BIN_DLL on RESP 16481-16483, Raft 17481-17483,
# peer 18481-18483 (not the local cluster's ports), runs SET -c 1 (p50) and SET -c 50 (rps) on the leader, stops them.
#   bench/raft-port.sh BIN_DLL LABEL [node args...]   e.g. --RaftKv:Tls:Cluster=true --RaftKv:Tls:CertFile=... for mutual TLS
# Interleave builds and settings over several rounds and compare medians (results/2026-12-07-raft-port.md).
set -euo pipefail
BIN=$1; LABEL=$2; shift 2
D=${TMPDIR:-/tmp}/raftkv-raft-port-$LABEL; rm -rf "$D"; mkdir -p "$D"
members=""
for m in 1 2 3; do i=$((m-1)); members+="--RaftKv:Members:$i:Raft=tcp://127.0.0.1:1748$m/ --RaftKv:Members:$i:Resp=127.0.0.1:1648$m --RaftKv:Members:$i:Peer=127.0.0.1:1848$m "; done
pids=()
for n in 1 2 3; do
  dotnet "$BIN" --raft:publicEndPoint=tcp://127.0.0.1:1748$n/ --raft:coldStart=false --raft:lowerElectionTimeout=300 --raft:upperElectionTimeout=600 \
    --raft:requestTimeout=00:00:05 --raft:rpcTimeout=00:00:02 --RaftKv:DataPath="$D/node$n" --RaftKv:Resp:BindAddress=127.0.0.1 --RaftKv:Resp:Port=1648$n \
    --RaftKv:Peer:ClusterSecret=bench-secret-0123456789abcdef $members "$@" > "$D/node$n.log" 2>&1 &
  pids+=($!)
done
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
leader=""
for _ in $(seq 1 150); do
  for n in 1 2 3; do
    if redis-cli -p 1648$n info raft 2>/dev/null | tr -d '\r' | grep -q '^role:leader'; then leader=$n; fi
  done
  [[ -n $leader ]] && break; sleep 0.2
done
[[ -n $leader ]] || { echo "$LABEL: no leader" >&2; tail -5 "$D"/node*.log >&2; exit 1; }
sleep 1
port=1648$leader
redis-benchmark -p $port -t set -c 1 -n 500 -d 100 -r 100000 -q >/dev/null 2>&1 || true
c1=$(redis-benchmark -p "$port" -t set -c 1 -n 3000 -d 100 -r 100000 --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f5)
c50=$(redis-benchmark -p "$port" -t set -c 50 -n 40000 -d 100 -r 100000 --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2)
echo "$LABEL c1_p50_ms=$c1 c50_rps=${c50%.*}"
