#!/usr/bin/env bash
# A/B comparison of node settings on the local 3-node cluster: the same write load against each setting, rounds
# interleaved so the machine's noise spreads evenly, medians reported.
#
#   bench/compare.sh [-r ROUNDS] LABEL 'ENV=value ...' [LABEL 'ENV=value ...' ...]
#
# Each setting is a list of environment assignments for cluster-config/local-cluster.sh, e.g.
#   bench/compare.sh http 'RAFTKV_TRANSPORT=http' tcp 'RAFTKV_TRANSPORT=tcp' \
#       tcp-private 'RAFTKV_TRANSPORT=tcp RAFTKV_NODE_ARGS=--RaftKv:WalMemory=PrivateMemory'
# Per setting and round: SET -c 1 (p50), SET -c 50 (rps), commands per log entry, and CPU time per log entry of the
# leader and of a follower (from /proc, over the -c 50 run). Everything it starts, it stops.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LC="$ROOT/cluster-config/local-cluster.sh"
ROUNDS=3
[[ ${1:-} == -r ]] && { ROUNDS=$2; shift 2; }
(( $# >= 2 && $# % 2 == 0 )) || { sed -n '2,12p' "$0"; exit 2; }
export RAFTKV_DATA="$ROOT/data/compare" RAFTKV_NO_BUILD=1
[[ -f $ROOT/src/Node/bin/Release/net10.0/RaftKv.Node.dll ]] || dotnet build "$ROOT/src/Node" -c Release -nologo -v q
trap '"$LC" stop >/dev/null 2>&1 || true' EXIT

labels=(); settings=()
while (( $# )); do labels+=("$1"); settings+=("$2"); shift 2; done
declare -A results

cpu_ticks() { local stat; stat=$(cat "/proc/$1/stat"); set -- ${stat##*) }; echo $(( ${12} + ${13} )); }
entries() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '/^raft_entries_proposed/ {print $2}'; }

for round in $(seq 1 "$ROUNDS"); do
  for i in "${!labels[@]}"; do
    # shellcheck disable=SC2086
    env ${settings[$i]} "$LC" wipe >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    env ${settings[$i]} "$LC" start >/dev/null
    leader=$("$LC" leader); port=$((6380 + leader)); follower=$((leader % 3 + 1))
    lpid=$(cat "$RAFTKV_DATA/node$leader/pid"); fpid=$(cat "$RAFTKV_DATA/node$follower/pid")
    c1=$(redis-benchmark -p "$port" -t set -c 1 -n 3000 -d 100 -r 100000 --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f5)
    e0=$(entries "$port"); l0=$(cpu_ticks "$lpid"); f0=$(cpu_ticks "$fpid")
    c50=$(redis-benchmark -p "$port" -t set -c 50 -n 40000 -d 100 -r 100000 --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2)
    e1=$(entries "$port"); l1=$(cpu_ticks "$lpid"); f1=$(cpu_ticks "$fpid")
    n=$((e1 - e0)); (( n > 0 )) || n=1
    tick_us=$((1000000 / $(getconf CLK_TCK)))
    results[$i,$round]="$c1 ${c50%.*} $((40000 / n)) $(((l1 - l0) * tick_us / n)) $(((f1 - f0) * tick_us / n))"
    echo "round $round ${labels[$i]}: c1 p50 ${c1} ms, c50 ${c50%.*} rps, $((40000 / n)) writes/entry, cpu/entry leader $(((l1 - l0) * tick_us / n)) us follower $(((f1 - f0) * tick_us / n)) us" >&2
    "$LC" stop >/dev/null
  done
done

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "| setting | SET -c 1 p50 ms | SET -c 50 rps | writes per entry | leader CPU per entry µs | follower CPU per entry µs |"
echo "|---|---|---|---|---|---|"
for i in "${!labels[@]}"; do
  row="| ${labels[$i]} (\`${settings[$i]}\`)"
  for field in 1 2 3 4 5; do
    row+=" | $(for round in $(seq 1 "$ROUNDS"); do echo "${results[$i,$round]}" | cut -d' ' -f"$field"; done | median)"
  done
  echo "$row |"
done
