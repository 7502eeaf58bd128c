#!/usr/bin/env bash
# Issue 17's lock benchmark (bench/LockBench), side by side in one run: RaftKv's queued locks (waiters queue on the
# server, granted by the apply of the release) vs RaftKv's polling lock (LOCK.ACQUIRE + random 10–800 ms sleeps) vs
# DistributedLock.Redis on one redis-server (appendfsync always, as durable as a Raft commit). Hand-off latency
# (release → next holder's acquire returns, p50/p99 over HANDOFFS) and throughput with 1, 10 and 100 clients
# contending for one lock (SECONDS each). Writes bench/results/<date>-locks.md. Run it under
# `flock /tmp/raftkv-ports.lock` when other work uses the local-cluster ports.
# Usage: bench/locks.sh [HANDOFFS] [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LC="$ROOT/cluster-config/local-cluster.sh"
HANDOFFS=${1:-200}
SECONDS_EACH=${2:-5}
REDIS_PORT=6400
WORK=$(mktemp -d /tmp/raftkv-locks.XXXXXX)
OUT="$ROOT/bench/results/$(date -u +%F)-locks.md"
command -v redis-server >/dev/null || { echo "needs redis-server: apt-get install -y redis-server" >&2; exit 1; }

cleanup() {
  "$LC" stop >/dev/null 2>&1 || true
  [[ -f $WORK/redis.pid ]] && kill -KILL "$(cat "$WORK/redis.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build "$ROOT/src/Node/RaftKv.Node.csproj" -c Release -nologo -v q -clp:ErrorsOnly
dotnet build "$ROOT/bench/LockBench/LockBench.csproj" -c Release -nologo -v q -clp:ErrorsOnly
"$LC" start >/dev/null
redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$WORK" --appendonly yes --appendfsync always --save "" \
  --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done

{
  echo "# Locks: RaftKv queued vs RaftKv polling vs DistributedLock.Redis ($(date -u '+%F %H:%M UTC'))"
  echo
  echo "\`bench/locks.sh $HANDOFFS $SECONDS_EACH\` on $(nproc) cores: a local 3-node RaftKv cluster and one redis-server"
  echo "(appendfsync always) on the same machine, lock expiry 30 s, clients in one process."
  echo
  dotnet "$ROOT/bench/LockBench/bin/Release/net10.0/LockBench.dll" --redis 127.0.0.1:$REDIS_PORT \
    --handoffs "$HANDOFFS" --seconds "$SECONDS_EACH" --clients 1,10,100
} | tee "$OUT"
echo "written: $OUT" >&2
