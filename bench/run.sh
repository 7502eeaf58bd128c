#!/usr/bin/env bash
# RaftKv side by side with a durable single redis-server, in one run, on this machine.
#
#   bench/run.sh            full run (about 6-8 minutes): throughput/latency table, failover, memory, log growth
#   bench/run.sh --quick    throughput/latency only, fewer requests
#   bench/run.sh --quick --tls
#                           every case without TLS, then over TLS against a cluster restarted with RAFTKV_TLS=1
#                           (certificates from local-cluster.sh under $RAFTKV_DATA/tls: ca.crt, client.crt,
#                           client.key, node1.crt/.key) and redis-server with a TLS port on the same certificates:
#                           the table shows the cost of TLS for both, in one run
#
# Starts the local 3-node cluster (cluster-config/local-cluster.sh, fresh data under data/bench) and a redis-server
# with appendonly yes / appendfsync always on 127.0.0.1:6390, runs the same redis-benchmark binary with the same
# arguments against each, and writes bench/results/<date>.md. Everything it starts, it stops.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
QUICK=0; TLS=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --tls) TLS=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--tls]" >&2; exit 2 ;;
  esac
done
((TLS && !QUICK)) && { echo "--tls runs with --quick only (the failover and memory parts drive plaintext ports)" >&2; exit 2; }
REDIS_PORT=6390
REDIS_TLS_PORT=6391
export RAFTKV_DATA="$ROOT/data/bench"
LC="$ROOT/cluster-config/local-cluster.sh"
WORK=$(mktemp -d)
RESULTS="$ROOT/bench/results"; mkdir -p "$RESULTS"
OUT="$RESULTS/$(date -u +%Y-%m-%d)$( ((TLS)) && echo -tls || true).md"

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install -y redis-server redis-tools" >&2; exit 1; }
done

cleanup() {
  "$LC" stop >/dev/null 2>&1 || true
  [[ -f $WORK/redis.pid ]] && kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- servers ----------------------------------------------------------------------------------------------------
"$LC" wipe >/dev/null 2>&1 || true
"$LC" start >/dev/null   # plaintext first, also with --tls: the same run measures both
TLS_DIR=${RAFTKV_TLS_DIR:-$RAFTKV_DATA/tls}
TLS_ARGS=()
redis_tls=()
start_redis() {
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$WORK" --appendonly yes --appendfsync always --save "" \
    "${redis_tls[@]}" --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
  for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
}
start_redis

# Restarts the cluster with RAFTKV_TLS=1 (local-cluster.sh makes the certificates) and redis-server with a TLS port
# on node1's certificate (client certificates required, as the nodes do).
switch_to_tls() {
  "$LC" stop >/dev/null
  "$LC" wipe >/dev/null 2>&1 || true
  RAFTKV_TLS=1 "$LC" start >/dev/null
  local file
  for file in ca.crt client.crt client.key node1.crt node1.key; do
    [[ -f $TLS_DIR/$file ]] || { echo "no $TLS_DIR/$file: does cluster-config/local-cluster.sh support RAFTKV_TLS=1 yet?" >&2; exit 1; }
  done
  TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/client.crt" --key "$TLS_DIR/client.key")
  redis_tls=(--tls-port $REDIS_TLS_PORT --tls-cert-file "$TLS_DIR/node1.crt" --tls-key-file "$TLS_DIR/node1.key"
    --tls-ca-cert-file "$TLS_DIR/ca.crt")
  kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 || break; sleep 0.1; done
  rm -rf "$WORK/appendonlydir" "$WORK"/*.aof
  start_redis
}

# Node N's TLS port: its RESP port when that speaks TLS (local-cluster.sh serves TLS only, on the same ports), else the
# tls_port its INFO names (a plaintext port still open), else RAFTKV_TLS_PORT_BASE + N.
tls_port_of() {
  local n=$1 port=$((6380 + $1)) named
  if [[ $(timeout 5 redis-cli "${TLS_ARGS[@]}" -p "$port" PING 2>/dev/null) == PONG ]]; then echo "$port"; return; fi
  named=$(timeout 5 redis-cli -p "$port" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^tls_port://p')
  if [[ -n $named && $named != 0 ]]; then echo "$named"; return; fi
  [[ -n ${RAFTKV_TLS_PORT_BASE:-} ]] && { echo $((RAFTKV_TLS_PORT_BASE + n)); return; }
  echo "cannot find node $n's TLS port (set RAFTKV_TLS_PORT_BASE)" >&2; exit 1
}

leader_port() { echo $((6380 + $("$LC" leader))); }
follower_port() { echo $((6380 + $("$LC" leader) % 3 + 1)); }
leader_tls_port() { tls_port_of "$("$LC" leader)"; }
follower_tls_port() { tls_port_of $(($("$LC" leader) % 3 + 1)); }

# --- warm-up: the nodes JIT-compile their hot paths on first use (tiered compilation); measure warm processes ------
warm_up() {
  redis-benchmark -h 127.0.0.1 -p "$@" -t set,get -c 50 -n 30000 -r 100000 -d 100 -q >/dev/null 2>&1 || true
  redis-benchmark -h 127.0.0.1 -p "$@" -t set,get -c 1 -n 2000 -r 100000 -d 100 -q >/dev/null 2>&1 || true
}
for port in "$(leader_port)" "$(follower_port)" $REDIS_PORT; do warm_up "$port"; done

# --- throughput and latency -------------------------------------------------------------------------------------
N=$((QUICK ? 30000 : 100000)); N1=$((QUICK ? 3000 : 10000))
# name | node (leader or follower) | redis-benchmark arguments
cases=(
  "SET -c 50 -P 1|leader|-t set -c 50 -P 1 -n $N -r 100000 -d 100"
  "SET -c 50 -P 16|leader|-t set -c 50 -P 16 -n $((N * 4)) -r 100000 -d 100"
  "GET -c 50 -P 1|leader|-t get -c 50 -P 1 -n $N -r 100000 -d 100"
  "GET -c 50 -P 16|leader|-t get -c 50 -P 16 -n $((N * 4)) -r 100000 -d 100"
  "SET -c 1|leader|-t set -c 1 -P 1 -n $N1 -r 100000 -d 100"
  "GET -c 1|leader|-t get -c 1 -P 1 -n $N1 -r 100000 -d 100"
  "SET -c 50 -P 1 via a follower|follower|-t set -c 50 -P 1 -n $N -r 100000 -d 100"
  "SET -c 1 via a follower|follower|-t set -c 1 -P 1 -n $N1 -r 100000 -d 100"
  "GET -c 50 -P 1 on a follower|follower|-t get -c 50 -P 1 -n $N -r 100000 -d 100"
)
# Prints "rps p50 p99" from redis-benchmark --csv.
measure() {
  local port=$1; shift
  # shellcheck disable=SC2086
  redis-benchmark -h 127.0.0.1 -p "$port" --csv $* 2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{printf "%.0f %.3f %.3f", $2, $5, $7}'
}
table="| workload | RaftKv rps | Redis rps | ratio | RaftKv p50 / p99 ms | Redis p50 / p99 ms |
|---|---|---|---|---|---|"
# "rps p50 p99" over TLS, with the local cluster's CA and client certificate.
measure_tls() {
  local port=$1; shift
  # shellcheck disable=SC2086
  redis-benchmark -h 127.0.0.1 -p "$port" "${TLS_ARGS[@]}" --csv $* 2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{printf "%.0f %.3f %.3f", $2, $5, $7}'
}
cost() { awk -v t="$1" -v p="$2" 'BEGIN { if (p <= 0) print "-"; else printf "%.2fx", t / p }'; }
if ((TLS)); then
  # Plaintext first (this cluster), then the same cases over TLS (a fresh cluster with RAFTKV_TLS=1).
  plain_k=(); plain_r=()
  for entry in "${cases[@]}"; do
    rest=${entry#*|}; node=${rest%%|*}; args=${rest#*|}
    read -r k_rps _ _ <<<"$(measure "$("${node}_port")" "$args")"
    read -r r_rps _ _ <<<"$(measure $REDIS_PORT "$args")"
    plain_k+=("$k_rps"); plain_r+=("$r_rps")
  done
  switch_to_tls
  for port in "$(leader_tls_port)" "$(follower_tls_port)" $REDIS_TLS_PORT; do warm_up "$port" "${TLS_ARGS[@]}"; done
  table="| workload (TLS) | RaftKv TLS rps | Redis TLS rps | ratio | RaftKv TLS p50 / p99 ms | Redis TLS p50 / p99 ms | RaftKv plain rps | RaftKv TLS / plain | Redis plain rps | Redis TLS / plain |
|---|---|---|---|---|---|---|---|---|---|"
  i=0
  for entry in "${cases[@]}"; do
    name=${entry%%|*}; rest=${entry#*|}; node=${rest%%|*}; args=${rest#*|}
    read -r k_rps k_p50 k_p99 <<<"$(measure_tls "$("${node}_tls_port")" "$args")"
    read -r r_rps r_p50 r_p99 <<<"$(measure_tls $REDIS_TLS_PORT "$args")"
    ratio=$(awk -v a="$k_rps" -v b="$r_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    line="| \`$name\` | $k_rps | $r_rps | ${ratio}x | $k_p50 / $k_p99 | $r_p50 / $r_p99 | ${plain_k[i]} | $(cost "$k_rps" "${plain_k[i]}") | ${plain_r[i]} | $(cost "$r_rps" "${plain_r[i]}") |"
    echo "$line"
    table+=$'\n'"$line"
    i=$((i + 1))
  done
  cases=()
fi
for entry in "${cases[@]}"; do
  name=${entry%%|*}; rest=${entry#*|}; node=${rest%%|*}; args=${rest#*|}
  read -r k_rps k_p50 k_p99 <<<"$(measure "$("${node}_port")" "$args")"
  read -r r_rps r_p50 r_p99 <<<"$(measure $REDIS_PORT "$args")"
  ratio=$(awk -v a="$k_rps" -v b="$r_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  line="| \`$name\` | $k_rps | $r_rps | ${ratio}x | $k_p50 / $k_p99 | $r_p50 / $r_p99 |"
  echo "$line"
  table+=$'\n'"$line"
done
if ((TLS)); then
  stats=$(redis-cli "${TLS_ARGS[@]}" -p "$(leader_tls_port)" info stats | tr -d '\r' | grep -E '^raft_(entries|commands)_proposed|^read_barriers_issued')
else
  stats=$(redis-cli -p "$(leader_port)" info stats | tr -d '\r' | grep -E '^raft_(entries|commands)_proposed|^read_barriers_issued')
fi

extra=""
if ((!QUICK)); then
  # --- failover under load --------------------------------------------------------------------------------------
  failovers=()
  for round in 1 2 3 4 5; do
    sleep 2
    leader=$("$LC" leader)
    (redis-benchmark -p $((6380 + leader)) -t set -c 10 -n 10000000 -r 1000 -q >/dev/null 2>&1 &
     echo $! >"$WORK/load.pid")
    sleep 1
    t0=$(date +%s%N)
    "$LC" kill "$leader"
    done_ms=""
    while [[ -z $done_ms ]]; do
      for n in 1 2 3; do
        [[ $n == "$leader" ]] && continue
        if [[ $(timeout 1 redis-cli -p $((6380 + n)) SET bench:failover "$round" 2>/dev/null) == OK ]]; then
          done_ms=$(( ($(date +%s%N) - t0) / 1000000 )); break
        fi
      done
      sleep 0.01
    done
    kill "$(cat "$WORK/load.pid")" 2>/dev/null || true
    failovers+=("$done_ms")
    "$LC" restart "$leader" >/dev/null
  done
  sorted=($(printf '%s\n' "${failovers[@]}" | sort -n))
  failover="median ${sorted[2]} ms (${sorted[*]})"
  echo "failover: $failover"

  # --- memory and log growth with 1M keys of 100-byte values ----------------------------------------------------
  python3 - "$WORK/load.resp" <<'PY'
import sys
value = b"v" * 100
with open(sys.argv[1], "wb") as out:
    for i in range(1_000_000):
        key = b"key:%07d" % i
        out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
PY
  leader_changes=$(cat "$RAFTKV_DATA"/node*/node.log | grep -c 'Leader is' || true)
  # Fresh servers, so the figures are those of the 1M keys alone (not of the earlier runs' keys and log).
  "$LC" wipe >/dev/null 2>&1 || true
  "$LC" start >/dev/null
  kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 || break; sleep 0.1; done
  rm -rf "$WORK/appendonlydir" "$WORK"/*.aof
  start_redis
  wal_bytes() { du -sb "$RAFTKV_DATA"/node*/wal | awk '{s += $1} END {print s}'; }
  rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
  sleep 2
  wal_before=$(wal_bytes)
  # --pipe exits non-zero when any reply is an error (e.g. -UNCERTAIN across a leader change): report, don't stop.
  pipe_raftkv=$(redis-cli -p "$(leader_port)" --pipe <"$WORK/load.resp" 2>&1 | grep -a 'errors:' | tail -n 1 || true)
  pipe_redis=$(redis-cli -p $REDIS_PORT --pipe <"$WORK/load.resp" 2>&1 | grep -a 'errors:' | tail -n 1 || true)
  sleep 3
  wal_after=$(wal_bytes)
  rss_nodes=""
  for n in 1 2 3; do rss_nodes+="$(( $(rss_kb "$(cat "$RAFTKV_DATA/node$n/pid")") / 1024 )) "; done
  rss_redis=$(( $(rss_kb "$(cat "$WORK/redis.pid")") / 1024 ))
  keys=$(redis-cli -p "$(leader_port)" dbsize)
  growth=$(( (wal_after - wal_before) / 3 / 1024 / 1024 ))
  echo "memory: RaftKv nodes ${rss_nodes}MB RSS with $keys keys; redis-server ${rss_redis} MB"
  echo "load: RaftKv [$pipe_raftkv], redis [$pipe_redis]; leader-change log lines so far: $leader_changes"
  echo "log growth: ${growth} MB per node per million 100-byte SETs (write-ahead log, before compaction)"
  extra="
## Failover under load

kill -9 of the leader while 10 clients write, to the first write acknowledged by the new leader, 5 rounds:
$failover.

## Memory and log

1,000,000 keys with 100-byte values, loaded with \`redis-cli --pipe\` into freshly started servers:

| | RSS |
|---|---|
| RaftKv nodes (each) | ${rss_nodes}MB |
| redis-server | ${rss_redis} MB |

\`redis-cli --pipe\` summary — RaftKv: $pipe_raftkv; Redis: $pipe_redis. Keys in RaftKv afterwards: $keys.
Leader-change log lines over the throughput and failover runs (failover rounds included): $leader_changes.

Write-ahead log growth: ${growth} MB per node per million SETs (before snapshots let it be compacted)."
fi

cat >"$OUT" <<MD
# Benchmark $(date -u +%Y-%m-%d)

Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB,
$(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version), $(redis-server --version | cut -d' ' -f3).
Shared, noisy cores: compare ratios within this run, not absolute numbers across runs.

RaftKv: 3 nodes on loopback (local-cluster.sh: Raft over DotNext's TCP transport, write-ahead log in private memory),
writes and reads sent to the leader (rows marked "follower": to a follower, which forwards writes to the leader and
reads after a read index from it); a write is acknowledged once the leader and a follower have it on disk. Every
server was warmed up first (30,000 SET/GET at -c 50, 2,000 at -c 1).
Redis: one redis-server, \`appendonly yes\`, \`appendfsync always\`. Same \`redis-benchmark\` and arguments
(\`-d 100 -r 100000\`, keys random in 100k).
$(if ((TLS)); then echo "
TLS: \`redis-benchmark --tls\` with the local cluster's CA and client certificate (client certificates verified by
every server); redis-server on $REDIS_TLS_PORT with node1's certificate. \"plain\" columns: the same cases measured earlier in
this run without TLS (RaftKv: a fresh plaintext cluster; Redis: its plaintext port)."; fi)

$table

Leader counters after the runs: $(echo "$stats" | tr '\n' ' ')
$extra
MD
echo "wrote $OUT"
