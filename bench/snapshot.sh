#!/usr/bin/env bash
# Snapshots with a big state: RaftKv (local 3-node cluster) side by side with one durable redis-server, on one data
# set (1,000,000 keys of 100-byte values), in one run. What issue 15's "Done when" compares before and after.
#
#   bench/snapshot.sh [-n REQUESTS] LABEL      e.g. bench/snapshot.sh before; bench/snapshot.sh after
#
# 1. load: 10,000 MSETs of 100 keys (key:000000000000 ... key:000000999999, the names redis-benchmark -r 1000000
#    draws, so the next step overwrites them) through `redis-cli --pipe`, into the leader and into redis-server;
# 2. `redis-benchmark -t set -c 1 -d 100 -r 1000000 -n REQUESTS` (default 50,000: at -c 1 each SET is one log entry,
#    so about 5 snapshots at SnapshotEveryEntries = 10,000) against the leader and redis-server: rps, p50, p99, p99.9
#    (the percentile distribution's first step at or above 99.9%) and max; snapshots counted from INFO persistence;
# 3. snapshot write time and size: RaftKv's snapshot_last_duration_ms / snapshot_last_bytes of every snapshot the
#    leader took during step 2 (INFO persistence, polled each second); Redis: one BGSAVE of the same state, timed to
#    its end, and the size of dump.rdb;
# 4. restart: kill -9 of a follower (of redis-server), started again; time until it answers PING, and until it has
#    loaded (loading:0) and caught up (applied_index = the leader's commit index; redis: DBSIZE back), then DEBUG DIGEST
#    compared with the leader's (redis: with its own before the kill).
# Prints one Markdown table (RaftKv, Redis, ratio) and writes it to bench/results/<date>-snapshots-<LABEL>.md.
#
# RaftKv: RAFTKV_DATA=data/snapshot-bench (wiped at start, kept for its node logs), RAFTKV_NO_BUILD=1 with the build in
# src/Node/bin/Release (built if missing); RAFTKV_NODE_ARGS passes node settings through. Redis: 127.0.0.1:6400,
# appendonly yes, appendfsync always, save "1 10000" (a BGSAVE once 10,000 writes and a second have passed: the
# nearest Redis has to RaftKv's policy). Uses ports 6381-6383, 7381-7383, 8381-8383 and 6400: run it under
# `flock /tmp/raftkv-ports.lock` on a shared machine. Everything it starts, it stops; every load is bounded in time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REQUESTS=50000
[[ ${1:-} == -n ]] && { REQUESTS=$2; shift 2; }
(($# == 1)) && [[ $1 =~ ^[A-Za-z0-9._-]+$ && $REQUESTS =~ ^[0-9]+$ ]] || { sed -n '2,26p' "$0"; exit 2; }
LABEL=$1
KEYS=1000000
REDIS_PORT=6400
export RAFTKV_DATA="$ROOT/data/snapshot-bench" RAFTKV_NO_BUILD=1
LC="$ROOT/cluster-config/local-cluster.sh"
RESULTS="$ROOT/bench/results"; mkdir -p "$RESULTS"
OUT="$RESULTS/$(date -u +%Y-%m-%d)-snapshots-$LABEL.md"
WORK=$(mktemp -d)

for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install -y redis-server redis-tools python3" >&2; exit 1; }
done
[[ -f $ROOT/src/Node/bin/Release/net10.0/RaftKv.Node.dll ]] ||
  dotnet build "$ROOT/src/Node/RaftKv.Node.csproj" -c Release -nologo -v q -clp:ErrorsOnly

cleanup() {
  [[ -f $WORK/poller.pid ]] && kill "$(cat "$WORK/poller.pid")" 2>/dev/null || true
  "$LC" stop >/dev/null 2>&1 || true
  [[ -f $WORK/redis.pid ]] && stop_redis
  rm -rf "$WORK"
}
# SIGKILL: on SIGTERM redis-server first saves (its save policy), and stays up if that fails.
stop_redis() {
  local pid; pid=$(cat "$WORK/redis.pid")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$WORK/redis.pid"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# field PORT SECTION NAME: one INFO field (empty when the server does not answer within 2 s).
field() { timeout 2 redis-cli -p "$1" INFO "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p" || true; }
secs() { awk -v ms="$1" 'BEGIN { if (ms == "") print "-"; else printf "%.2f", ms / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 <= 0 || a !~ /^[0-9.]+$/) print "-"; else printf "%.2fx", a / b }'; }
leader_port() { local n; n=$("$LC" leader) || return 1; echo $((6380 + n)); }

# --- servers ----------------------------------------------------------------------------------------------------
"$LC" wipe >/dev/null 2>&1 || true
"$LC" start >/dev/null
start_redis() {
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$WORK" --dbfilename dump.rdb --appendonly yes \
    --appendfsync always --save "1 10000" --enable-debug-command local \
    --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
  for _ in $(seq 1 50); do [[ -s $WORK/redis.pid ]] && break; sleep 0.02; done
}
start_redis
for _ in $(seq 1 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done

# --- 1. load ----------------------------------------------------------------------------------------------------
# Values differ per key (seeded, printable): a constant value would let Redis's LZF shrink its dump to nothing.
python3 - "$WORK/load.resp" "$KEYS" <<'PY'
import base64, random, sys
rng = random.Random(15)
keys = int(sys.argv[2])
with open(sys.argv[1], "wb") as out:
    for start in range(0, keys, 100):
        batch = range(start, min(start + 100, keys))
        out.write(b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * len(batch)))
        for i in batch:
            out.write(b"$16\r\nkey:%012d\r\n$100\r\n%s\r\n" % (i, base64.b64encode(rng.randbytes(75))))
PY
# load PORT: seconds to load, then --pipe's summary (it exits non-zero when a reply is an error: report, don't stop).
load() {
  local t0 summary; t0=$(now_ms)
  summary=$(timeout 600 redis-cli -p "$1" --pipe --pipe-timeout 120 <"$WORK/load.resp" 2>&1 | grep -a 'errors:' | tail -n 1 || true)
  echo "$(secs $(($(now_ms) - t0))) ${summary:-no summary (timed out?)}"
}
port=$(leader_port)
read -r load_k pipe_k <<<"$(load "$port")"
read -r load_r pipe_r <<<"$(load $REDIS_PORT)"
echo "load: RaftKv ${load_k} s [$pipe_k], redis ${load_r} s [$pipe_r]" >&2

# Every node has applied the leader's commit index and none is writing a snapshot (up to 5 minutes).
settle() {
  local leader commit n done
  for _ in $(seq 1 600); do
    leader=$(leader_port 2>/dev/null) || { sleep 0.5; continue; }
    commit=$(field "$leader" raft commit_index); done=1
    for n in 1 2 3; do
      [[ $(field $((6380 + n)) raft applied_index) == "$commit" && $(field $((6380 + n)) persistence rdb_bgsave_in_progress) == 0 ]] || done=0
    done
    ((done)) && [[ -n $commit ]] && return 0
    sleep 0.5
  done
  echo "the cluster did not settle in 5 minutes: $("$LC" status)" >&2; return 1
}
settle
# Redis: no BGSAVE or AOF rewrite running (both fork; a step should not start inside the previous one's).
redis_settle() {
  for _ in $(seq 1 600); do
    [[ $(field $REDIS_PORT persistence rdb_bgsave_in_progress) == 0 && $(field $REDIS_PORT persistence aof_rewrite_in_progress) == 0 ]] && return 0
    sleep 0.5
  done
  echo "redis-server still saving after 5 minutes" >&2; return 1
}
redis_settle
keys_k=$(redis-cli -p "$(leader_port)" dbsize); keys_r=$(redis-cli -p $REDIS_PORT dbsize)

# --- 2. SET -c 1 while snapshots happen -------------------------------------------------------------------------
# Prints "rps p50 p99 p99.9 max" from redis-benchmark's percentile distribution and summary ("- - - - -" if it did not
# finish in 10 minutes).
set_latency() {
  local raw="$WORK/set-$1.txt"
  timeout 600 redis-benchmark -h 127.0.0.1 -p "$1" -t set -c 1 -d 100 -r $KEYS -n "$REQUESTS" 2>/dev/null | tr '\r' '\n' >"$raw" || true
  awk '
    /^Latency by percentile distribution/ { dist = 1; next }
    dist && /^$/ { dist = 0 }
    dist && p999 == "" { pct = $1; sub("%", "", pct); if (pct + 0 >= 99.9) p999 = $3 }
    /throughput summary:/ { rps = $3 }
    /avg +min +p50/ { getline; p50 = $3; p99 = $5; max = $6 }
    END { if (rps == "") print "- - - - -"; else printf "%.0f %s %s %s %s\n", rps, p50, p99, p999, max }' "$raw"
}
# Polls the leader's INFO persistence once a second: "rdb_saves snapshot_last_duration_ms snapshot_last_bytes".
port=$(leader_port)
(while :; do
  timeout 2 redis-cli -p "$port" INFO persistence 2>/dev/null | tr -d '\r' |
    awk -F: '/^rdb_saves:/ {s = $2} /^snapshot_last_duration_ms:/ {d = $2} /^snapshot_last_bytes:/ {b = $2} END {if (s != "") print s, d, b}' || true
  sleep 1
done >"$WORK/snapshots.txt" 2>/dev/null) &
echo $! >"$WORK/poller.pid"
saves_k0=$(field "$port" persistence rdb_saves)
read -r rps_k p50_k p99_k p999_k max_k <<<"$(set_latency "$port")"
saves_k1=$(field "$port" persistence rdb_saves)
kill "$(cat "$WORK/poller.pid")" 2>/dev/null || true; rm -f "$WORK/poller.pid"
saves_r0=$(field $REDIS_PORT persistence rdb_saves); rewrites_r0=$(field $REDIS_PORT persistence aof_rewrites)
read -r rps_r p50_r p99_r p999_r max_r <<<"$(set_latency $REDIS_PORT)"
saves_r1=$(field $REDIS_PORT persistence rdb_saves); rewrites_r1=$(field $REDIS_PORT persistence aof_rewrites)
fork_r=$(field $REDIS_PORT stats latest_fork_usec)
echo "SET -c 1: RaftKv $rps_k rps p50 $p50_k p99 $p99_k p99.9 $p999_k max $max_k ms, $((saves_k1 - saves_k0)) snapshots;" \
  "redis $rps_r rps p50 $p50_r p99 $p99_r p99.9 $p999_r max $max_r ms, $((saves_r1 - saves_r0)) BGSAVEs" >&2

# --- 3. snapshot write time and size ----------------------------------------------------------------------------
# RaftKv: the snapshots the leader took during step 2, one line each (by rdb_saves), their durations' median and max.
durations=$(awk -v from="$saves_k0" '$1 > from && !seen[$1]++ {print $2}' "$WORK/snapshots.txt" | sort -n)
count_polled=$(echo "$durations" | grep -c . || true)
snap_med_k=$(echo "$durations" | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}')
snap_max_k=$(echo "$durations" | tail -n 1)
snap_bytes_k=$(field "$(leader_port)" persistence snapshot_last_bytes)
settle
redis_settle
s0=$(field $REDIS_PORT persistence rdb_saves)
t0=$(now_ms)
redis-cli -p $REDIS_PORT BGSAVE >/dev/null
for _ in $(seq 1 6000); do
  [[ $(field $REDIS_PORT persistence rdb_saves) -gt $s0 && $(field $REDIS_PORT persistence rdb_bgsave_in_progress) == 0 ]] && break
  sleep 0.02
done
snap_ms_r=$(($(now_ms) - t0))
snap_bytes_r=$(stat -c %s "$WORK/dump.rdb")
mb() { awk -v b="$1" 'BEGIN { if (b == "" || b == 0) print "-"; else printf "%.1f", b / 1048576 }'; }

# --- 4. restart from the snapshot -------------------------------------------------------------------------------
leader=$("$LC" leader); follower=$((leader % 3 + 1)); fport=$((6380 + follower))
commit=$(field $((6380 + leader)) raft commit_index)
digest_leader=$(redis-cli -p $((6380 + leader)) DEBUG DIGEST)
"$LC" kill "$follower"
t0=$(now_ms)
"$LC" restart "$follower" >/dev/null 2>&1 || true   # it may not open its port within local-cluster.sh's 10 s: polled here
answer_k=""; caught_k=""
for _ in $(seq 1 6000); do
  if [[ -z $answer_k && $(timeout 1 redis-cli -p $fport PING 2>/dev/null) == PONG ]]; then answer_k=$(($(now_ms) - t0)); fi
  if [[ -n $answer_k && $(field $fport persistence loading) == 0 ]]; then
    applied=$(field $fport raft applied_index)
    ((${applied:-0} >= commit)) && { caught_k=$(($(now_ms) - t0)); break; }
  fi
  pid=$(cat "$RAFTKV_DATA/node$follower/pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || { echo "node$follower exited while restarting" >&2; break; }
  sleep 0.05
done
digest_follower=$(timeout 30 redis-cli -p $fport DEBUG DIGEST 2>/dev/null || true)
digest_leader_now=$(redis-cli -p $((6380 + leader)) DEBUG DIGEST)
echo "restart: node$follower answers after ${answer_k:-?} ms, caught up after ${caught_k:-?} ms; digest $digest_follower vs $digest_leader_now" >&2

digest_r0=$(redis-cli -p $REDIS_PORT DEBUG DIGEST)
stop_redis
t0=$(now_ms)
start_redis
answer_r=""; caught_r=""
for _ in $(seq 1 6000); do
  if [[ -z $answer_r && $(timeout 1 redis-cli -p $REDIS_PORT PING 2>/dev/null) == PONG ]]; then answer_r=$(($(now_ms) - t0)); fi
  if [[ -n $answer_r && $(field $REDIS_PORT persistence loading) == 0 && $(redis-cli -p $REDIS_PORT dbsize) == "$keys_r" ]]; then
    caught_r=$(($(now_ms) - t0)); break
  fi
  sleep 0.05
done
digest_r1=$(redis-cli -p $REDIS_PORT DEBUG DIGEST)

# --- health under this load -------------------------------------------------------------------------------------
health=""
for n in 1 2 3; do
  stopped=$(field $((6380 + n)) raft applier_stopped)
  rss=$(awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$(cat "$RAFTKV_DATA/node$n/pid" 2>/dev/null || echo 0)/status" 2>/dev/null || echo "-")
  health+="node$n: ${stopped:+applier_stopped $stopped, }RSS ${rss:-?} MB; "
done
leader_changes=$(cat "$RAFTKV_DATA"/node*/node.log | grep -c 'Leader is' || true)
rss_r=$(awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$(cat "$WORK/redis.pid")/status")
digest_k_ok=$([[ -n $digest_follower && $digest_follower == "$digest_leader_now" ]] && echo equal || echo "DIFFERENT ($digest_follower vs $digest_leader_now)")
digest_r_ok=$([[ $digest_r0 == "$digest_r1" ]] && echo equal || echo "DIFFERENT ($digest_r0 vs $digest_r1)")

table="| $LABEL: 1M keys × 100 B | RaftKv | Redis | RaftKv / Redis |
|---|---|---|---|
| load: 10,000 MSETs of 100 keys (\`redis-cli --pipe\`), s | $load_k | $load_r | $(ratio "$load_k" "$load_r") |
| \`SET -c 1\` rps | $rps_k | $rps_r | $(ratio "$rps_k" "$rps_r") |
| \`SET -c 1\` p50 ms | $p50_k | $p50_r | $(ratio "$p50_k" "$p50_r") |
| \`SET -c 1\` p99 ms | $p99_k | $p99_r | $(ratio "$p99_k" "$p99_r") |
| \`SET -c 1\` p99.9 ms | $p999_k | $p999_r | $(ratio "$p999_k" "$p999_r") |
| \`SET -c 1\` max ms | $max_k | $max_r | $(ratio "$max_k" "$max_r") |
| snapshots during the $REQUESTS SETs | $((saves_k1 - saves_k0)) (leader) | $((saves_r1 - saves_r0)) BGSAVE + $((rewrites_r1 - rewrites_r0)) AOF rewrite | - |
| snapshot write ms (RaftKv: median / max of the leader's $count_polled; Redis: one BGSAVE) | ${snap_med_k:--} / ${snap_max_k:--} | $snap_ms_r | $(ratio "$snap_med_k" "$snap_ms_r") |
| snapshot size MB | $(mb "$snap_bytes_k") | $(mb "$snap_bytes_r") | $(ratio "$snap_bytes_k" "$snap_bytes_r") |
| restart after kill -9: answers PING, s | $(secs "$answer_k") | $(secs "$answer_r") | $(ratio "$answer_k" "$answer_r") |
| restart after kill -9: loaded and caught up, s | $(secs "$caught_k") | $(secs "$caught_r") | $(ratio "$caught_k" "$caught_r") |"
echo "$table"

cat >"$OUT" <<MD
# Snapshots with 1M keys: $LABEL ($(date -u +%Y-%m-%d))

Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB,
$(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version), $(redis-server --version | cut -d' ' -f3).
Build: $(git -C "$ROOT" log -1 --format='%h %s' | cut -c1-100)$(git -C "$ROOT" diff --quiet HEAD -- src || echo ' (with uncommitted changes in src)').
Shared, noisy cores: compare ratios within this run, not absolute numbers across runs.
Command: \`bench/snapshot.sh -n $REQUESTS $LABEL\`${RAFTKV_NODE_ARGS:+, RAFTKV_NODE_ARGS=\`$RAFTKV_NODE_ARGS\`}.

RaftKv: the local 3-node cluster (local-cluster.sh), a snapshot every $(field "$(leader_port)" persistence snapshot_every_entries)
entries or $(mb "$(field "$(leader_port)" persistence snapshot_log_bytes)") MB of log; writes to the leader. Redis: one redis-server,
\`appendonly yes\`, \`appendfsync always\`, \`save "1 10000"\`. Data: $KEYS keys \`key:%012d\` of 100 distinct
printable bytes (RaftKv holds $keys_k, Redis $keys_r after the load), then \`redis-benchmark -t set -c 1 -d 100 -r $KEYS
-n $REQUESTS\` overwrites random ones (its values are 100 × \`x\`). p99.9 is the percentile distribution's first step at
or above 99.9 %. RaftKv's snapshot write time is the node's own \`snapshot_last_duration_ms\` (state serialised under
the read lock, then written), Redis's the wall time from BGSAVE to its end. Restart: a follower (Redis: the server)
killed with SIGKILL and started again; "caught up" means \`loading:0\` and \`applied_index\` = the leader's commit index
(Redis: DBSIZE back to $keys_r).

$table

- \`redis-cli --pipe\`: RaftKv [$pipe_k]; Redis [$pipe_r].
- After the restart, DEBUG DIGEST of node$follower vs the leader: $digest_k_ok; Redis before/after: $digest_r_ok.
- Redis's last fork took ${fork_r} µs (its main thread's pause per BGSAVE/rewrite).
- $health redis-server RSS ${rss_r} MB. Leader-change log lines: $leader_changes.
MD
echo "wrote $OUT"
