#!/usr/bin/env bash
# Measures failover on the local cluster: kill -9 of the leader -> first write acknowledged by the new leader.
# Runs ROUNDS rounds (default 5), restarting the killed node between rounds, and prints each time and the median.
# Usage: bench/failover.sh [ROUNDS]      (needs redis-cli; starts the local cluster if it is not running)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LC="$ROOT/cluster-config/local-cluster.sh"
ROUNDS=${1:-5}
command -v redis-cli >/dev/null || { echo "needs redis-cli (apt-get install -y redis-tools)" >&2; exit 1; }

"$LC" start >/dev/null
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
times=()
for round in $(seq 1 "$ROUNDS"); do
  leader=$("$LC" leader)
  # Let the cluster settle so each round starts from a quiet, fully replicated state.
  sleep 2
  t0=$(now_ms)
  "$LC" kill "$leader"
  while true; do
    for n in 1 2 3; do
      [[ $n == "$leader" ]] && continue
      reply=$(timeout 1 redis-cli -p $((6380 + n)) SET failover:round "$round" 2>/dev/null || true)
      if [[ $reply == OK ]]; then break 2; fi
    done
    sleep 0.01
  done
  t1=$(now_ms)
  times+=($((t1 - t0)))
  echo "round $round: killed node$leader, write acknowledged after $((t1 - t0)) ms"
  "$LC" restart "$leader" >/dev/null
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "failover (kill -9 of the leader -> first acknowledged write): median ${sorted[$((ROUNDS / 2))]} ms over $ROUNDS rounds (${sorted[*]})"
