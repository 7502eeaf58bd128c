#!/usr/bin/env bash
set -e
cd /work/main
export RAFTKV_DATA=/tmp/lc-join1m
export RAFTKV_NODE_ARGS="${RAFTKV_NODE_ARGS:-}"
rm -rf $RAFTKV_DATA
/tmp/lc-frozen.sh start | tail -1
# 1M distinct keys of 100 bytes
redis-cli -p 6381 DEBUG DIGEST >/dev/null || true
L=$(/tmp/lc-frozen.sh leader)
redis-benchmark -p $((6380+L)) -t set -n 1000000 -r 100000000 -d 100 -P 64 -c 20 -q 2>&1 | tail -1
# distinct keys: use __rand_int__ with -r; count
redis-cli -p $((6380+L)) DBSIZE
start=$(date +%s.%N)
/tmp/lc-frozen.sh join 4
end=$(date +%s.%N)
echo "join 4 took $(echo "$end - $start" | bc) s"
redis-cli -p 6384 DBSIZE
redis-cli -p 6384 INFO persistence | grep -E "snapshot_last_bytes|rdb_saves" || true
/tmp/lc-frozen.sh wipe
