#!/usr/bin/env bash
# Drives a local 3-node RaftKv cluster on 127.0.0.1: RESP 6381-6383, Raft/HTTP 7381-7383.
# Data, logs and PIDs live under data/local/nodeN (git-ignored).
#
#   local-cluster.sh start            build if needed, start every stopped node, wait for a leader
#   local-cluster.sh stop             stop every node (SIGTERM, then SIGKILL after 10 s)
#   local-cluster.sh status           one line per node: state, role, term, applied index
#   local-cluster.sh leader           print the leader's node number (exit 1 if none)
#   local-cluster.sh kill N           SIGKILL node N
#   local-cluster.sh pause N          SIGSTOP node N
#   local-cluster.sh resume N         SIGCONT node N
#   local-cluster.sh restart N        kill node N if running, start it again
#   local-cluster.sh wipe             stop everything and delete data/local
#
# Environment: RAFTKV_NO_BUILD=1 skips the build when a build exists; RAFTKV_DATA moves data/local elsewhere
# (tests use their own directory); RAFTKV_NODE_ARGS adds arguments to every node, e.g.
# RAFTKV_NODE_ARGS="--raft:lowerElectionTimeout=150 --raft:upperElectionTimeout=300" for an experiment.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="${RAFTKV_DATA:-$ROOT/data/local}"
BIN="$ROOT/src/Node/bin/Release/net10.0/RaftKv.Node.dll"
NODES=(1 2 3)

resp_port() { echo $((6380 + $1)); }
node_dir() { echo "$DATA/node$1"; }
pid_of() { local f; f="$(node_dir "$1")/pid"; [[ -f $f ]] && cat "$f" || true; }

is_running() {
  local pid; pid=$(pid_of "$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

is_paused() {
  local pid; pid=$(pid_of "$1")
  [[ -n $pid ]] && [[ $(ps -o stat= -p "$pid" 2>/dev/null) == T* ]]
}

# Sends inline commands to node N and prints the raw reply (QUIT makes the server close the socket).
resp() {
  local n=$1; shift
  timeout 2 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$(resp_port "$n")"' || exit 1
    printf "%s\r\nQUIT\r\n" "$*" >&3
    cat <&3' _ "$@" 2>/dev/null | tr -d '\r' || true
}

info_field() { resp "$1" "INFO raft" | sed -n "s/^$2://p"; }

build() {
  [[ ${RAFTKV_NO_BUILD:-} == 1 && -f $BIN ]] && return
  echo "Building RaftKv.Node (Release)..."
  dotnet build "$ROOT/src/Node/RaftKv.Node.csproj" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null \
    || { dotnet build "$ROOT/src/Node/RaftKv.Node.csproj" -c Release -nologo -v q -clp:ErrorsOnly; exit 1; }
}

start_node() {
  local n=$1 dir; dir=$(node_dir "$n")
  if is_running "$n"; then return; fi
  mkdir -p "$dir"
  rm -f "$dir/pid"
  # setsid -f: a session of its own, so the node outlives this script and a terminal's signals; the child writes
  # its own PID and execs dotnet, so the PID file names the node process itself.
  (cd "$ROOT" && setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/pid" \
      dotnet "$BIN" --config "cluster-config/local/node$n.json" --RaftKv:DataPath="$dir" ${RAFTKV_NODE_ARGS:-} \
      >>"$dir/node.log" 2>&1 </dev/null)
  for _ in $(seq 1 50); do [[ -s $dir/pid ]] && break; sleep 0.02; done
}

wait_for_port() {
  local n=$1
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$(resp_port "$n")") 2>/dev/null; then return 0; fi
    is_running "$n" || { echo "node$n exited; last log lines:" >&2; tail -n 20 "$(node_dir "$n")/node.log" >&2; return 1; }
    sleep 0.1
  done
  echo "node$n did not open port $(resp_port "$n")" >&2; return 1
}

find_leader() {
  local n
  for n in "${NODES[@]}"; do
    if is_running "$n" && ! is_paused "$n" && [[ $(info_field "$n" role) == leader ]]; then echo "$n"; return 0; fi
  done
  return 1
}

wait_for_leader() {
  for _ in $(seq 1 100); do
    find_leader && return 0
    sleep 0.2
  done
  echo "no leader after 20 s" >&2; return 1
}

stop_node() {
  local n=$1 pid; pid=$(pid_of "$n")
  is_running "$n" || { rm -f "$(node_dir "$n")/pid"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do is_running "$n" || break; sleep 0.1; done
  is_running "$n" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(node_dir "$n")/pid"
}

check_n() { [[ ${1:-} =~ ^[123]$ ]] || { echo "node number must be 1, 2 or 3" >&2; exit 2; }; }

cmd=${1:-}; shift || true
case "$cmd" in
  start)
    build
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in "${NODES[@]}"; do wait_for_port "$n"; done
    leader=$(wait_for_leader)
    echo "RaftKv cluster is up: leader is node$leader (RESP $(resp_port "$leader"))."
    echo "Connect with:  redis-cli -p 6381      (any node: 6381, 6382, 6383; followers answer writes with -MOVED, use redis-cli -c to follow)"
    command -v redis-cli >/dev/null || echo "(redis-cli is in Debian's redis-tools package: apt-get install -y redis-tools)"
    ;;
  stop)
    for n in "${NODES[@]}"; do stop_node "$n"; done
    ;;
  status)
    for n in "${NODES[@]}"; do
      if ! is_running "$n"; then printf 'node%s  stopped\n' "$n"; continue; fi
      if is_paused "$n"; then printf 'node%s  paused   pid %s\n' "$n" "$(pid_of "$n")"; continue; fi
      printf 'node%s  running  pid %-7s role %-9s term %-4s applied %s\n' "$n" "$(pid_of "$n")" \
        "$(info_field "$n" role)" "$(info_field "$n" term)" "$(info_field "$n" applied_index)"
    done
    ;;
  leader) find_leader || { echo "no leader" >&2; exit 1; } ;;
  kill) check_n "${1:-}"; pid=$(pid_of "$1"); [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true; rm -f "$(node_dir "$1")/pid" ;;
  pause) check_n "${1:-}"; kill -STOP "$(pid_of "$1")" ;;
  resume) check_n "${1:-}"; kill -CONT "$(pid_of "$1")" ;;
  restart)
    check_n "${1:-}"; build
    pid=$(pid_of "$1"); [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do is_running "$1" || break; sleep 0.1; done
    rm -f "$(node_dir "$1")/pid"
    start_node "$1"; wait_for_port "$1"
    ;;
  wipe)
    for n in "${NODES[@]}"; do stop_node "$n"; done
    rm -rf "$DATA"
    ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
