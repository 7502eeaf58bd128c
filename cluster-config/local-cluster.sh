#!/usr/bin/env bash
# Drives a local 3-node RaftKv cluster on 127.0.0.1: RESP 6381-6383 (clients), Raft 7381-7383 (DotNext's TCP
# transport), peer channel 8381-8383 (forwarded writes and read indexes between members, authenticated with the
# cluster secret). Data, logs and PIDs live under data/local/nodeN (git-ignored); the cluster secret is generated
# once into data/local/cluster-secret (mode 600) and handed to every node as RaftKv:Peer:ClusterSecretFile.
# Node N serves metrics and health on http://127.0.0.1:938N/ (/metrics, /health/live, /health/ready: RaftKv:Http:Listen).
#
#   local-cluster.sh start            build if needed, start every stopped node, wait for a leader
#   local-cluster.sh stop             stop every node (SIGTERM, then SIGKILL after 10 s)
#   local-cluster.sh status           one line per node: state, role, term, applied index
#   local-cluster.sh leader           print the leader's node number (exit 1 if none)
#   local-cluster.sh kill N           SIGKILL node N
#   local-cluster.sh pause N          SIGSTOP node N
#   local-cluster.sh resume N         SIGCONT node N
#   local-cluster.sh restart N        kill node N if running, start it again
#   local-cluster.sh recover N        replace node N's data: stop it, delete its data, start it with --recover
#                                     (docs/storage.md, "Replacing a node's data"); it votes once it has caught up
#   local-cluster.sh wipe             stop everything and delete data/local
#   local-cluster.sh backup FILE      online backup of the running cluster (through a running node) into FILE
#   local-cluster.sh restore FILE     stop, wipe the nodes' data, restore every node from FILE, start: a new cluster
#                                     with the backup's state (TLS, password and cluster secret are kept)
#   local-cluster.sh join N           N in 4..9: start node N (RESP 638N, Raft 738N, peer 838N) with --join and add it
#                                     to the cluster (MEMBER.ADD); it answers once N caught up and votes
#   local-cluster.sh remove N         remove node N from the membership (MEMBER.REMOVE; the leader hands over first),
#                                     then stop it and delete its data (its node.log stays)
#   local-cluster.sh replace N        replace node N by a new node with the same addresses: remove it, delete its data,
#                                     start it with --join and add it again
#   local-cluster.sh members          the membership as the leader has it (MEMBER.LIST)
#   local-cluster.sh partition N      cut node N off the network (RAFTKV_NETNS=1 only)
#   local-cluster.sh heal [N]         reconnect node N, or every node (RAFTKV_NETNS=1 only)
#   local-cluster.sh host N           print node N's address (127.0.0.1, or its namespace's address)
#
# Environment: RAFTKV_NO_BUILD=1 skips the build when a build exists; RAFTKV_DATA moves data/local elsewhere
# (tests use their own directory); RAFTKV_NODE_ARGS adds arguments to every node, e.g.
# RAFTKV_NODE_ARGS="--raft:lowerElectionTimeout=150 --raft:upperElectionTimeout=300" for an experiment;
# RAFTKV_NODE<N>_ARGS adds arguments to node N only (e.g. --RaftKv:ClockOffset=00:00:00.200 for a skewed clock).
# RAFTKV_NETNS=1 (root only) runs node N in a network namespace of its own, rkvN, at 10.211.0.N on a bridge, rkvbr0,
# so a test can partition it; the ports stay the same. Same value for every command of one cluster.
# RAFTKV_TRANSPORT=tcp|http overrides the Raft transport of the config files (DotNext's TCP transport, or HTTP/1.1
# through Kestrel): the scheme of the members' Raft addresses picks it.
# RAFTKV_REQUIREPASS=<password> (at start) gives every node that password for the default user (RaftKv:Security:RequirePass,
# handed over in the environment, never on a command line); RAFTKV_TLS=1 (at start) makes a development CA and
# certificates once under data/local/tls and serves RESP over TLS only (same ports) with mutual TLS between nodes. Both
# are remembered in data/local (the password in a mode-600 file) for every later verb until `wipe`; the verbs that talk
# to the nodes then use redis-cli (--tls, and REDISCLI_AUTH for the password). A cluster whose default user's password
# comes from elsewhere (an aclfile in RAFTKV_NODE_ARGS) is driven with REDISCLI_AUTH=<password> set for every verb.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="${RAFTKV_DATA:-$ROOT/data/local}"
BIN="$ROOT/src/Node/bin/Release/net10.0/RaftKv.Node.dll"
# The members: 1 2 3 until `join N` / `remove N` change them (remembered in $DATA/members, one number per line).
MEMBERS_FILE="$DATA/members"
NODES=(1 2 3)
[[ -s $MEMBERS_FILE ]] && mapfile -t NODES <"$MEMBERS_FILE"

NETNS=${RAFTKV_NETNS:-0}
TRANSPORT=${RAFTKV_TRANSPORT:-}
BRIDGE=rkvbr0
TLS_DIR="$DATA/tls"
PASS_FILE="$DATA/requirepass"
TLS_MARK="$DATA/tls-enabled"

resp_port() { echo $((6380 + $1)); }
raft_port() { echo $((7380 + $1)); }
peer_port() { echo $((8380 + $1)); }
http_port() { echo $((9380 + $1)); }
host_of() { if [[ $NETNS == 1 ]]; then echo "10.211.0.$1"; else echo 127.0.0.1; fi; }

# Network namespaces: one per node, each with a veth into one bridge in the root namespace (where clients run).
net_up() {
  [[ $NETNS == 1 ]] || return 0
  ip link show "$BRIDGE" >/dev/null 2>&1 || {
    ip link add "$BRIDGE" type bridge
    ip addr add 10.211.0.254/24 dev "$BRIDGE"
    ip link set "$BRIDGE" up
  }
  local n
  for n in "${NODES[@]}"; do
    ip netns list | grep -qw "rkv$n" && continue
    ip netns add "rkv$n"
    ip link add "rkv$n-h" type veth peer name eth0 netns "rkv$n"
    ip link set "rkv$n-h" master "$BRIDGE"
    ip link set "rkv$n-h" up
    ip netns exec "rkv$n" ip addr add "$(host_of "$n")/24" dev eth0
    ip netns exec "rkv$n" ip link set eth0 up
    ip netns exec "rkv$n" ip link set lo up
  done
}

net_down() {
  [[ $NETNS == 1 ]] || return 0
  local n
  for n in "${NODES[@]}"; do ip netns del "rkv$n" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
}

# In a namespace a node's own addresses differ from the config files': every member is at 10.211.0.N.
# RAFTKV_TRANSPORT changes every member's Raft address likewise.
netns_args() {
  [[ $NETNS == 1 || -n $TRANSPORT ]] || return 0
  local n=$1 m i scheme=${TRANSPORT:-$(config_scheme)}
  printf -- '--raft:publicEndPoint=%s://%s:%s/ --RaftKv:Resp:BindAddress=%s ' "$scheme" "$(host_of "$n")" "$(raft_port "$n")" "$(host_of "$n")"
  # The config files' members (nodes 1-3, indexes 0-2); member_args adds joined ones.
  for m in 1 2 3; do
    i=$((m - 1))
    printf -- '--RaftKv:Members:%s:Raft=%s://%s:%s/ --RaftKv:Members:%s:Resp=%s:%s --RaftKv:Members:%s:Peer=%s:%s ' \
      "$i" "$scheme" "$(host_of "$m")" "$(raft_port "$m")" "$i" "$(host_of "$m")" "$(resp_port "$m")" "$i" "$(host_of "$m")" "$(peer_port "$m")"
  done
}

# The Raft transport the config files name (the scheme of node1's publicEndPoint).
config_scheme() { grep -o '"publicEndPoint": *"[a-z]*' "$ROOT/cluster-config/local/node1.json" | sed 's/.*"//'; }

# --- security: the password and TLS a cluster was started with, remembered in its data directory ---------------------
# An environment variable given now wins over what the cluster was started with; `start` records it.
TLS=0; PASS=""
[[ -f $TLS_MARK ]] && TLS=1
[[ -f $PASS_FILE ]] && PASS=$(<"$PASS_FILE")
[[ -n ${RAFTKV_TLS+set} ]] && { [[ $RAFTKV_TLS == 1 ]] && TLS=1 || TLS=0; }
[[ -n ${RAFTKV_REQUIREPASS+set} ]] && PASS=$RAFTKV_REQUIREPASS

save_security() {
  mkdir -p "$DATA"
  if [[ $TLS == 1 ]]; then : >"$TLS_MARK"; else rm -f "$TLS_MARK"; fi
  if [[ -n $PASS ]]; then (umask 077 && printf '%s' "$PASS" >"$PASS_FILE.tmp" && mv "$PASS_FILE.tmp" "$PASS_FILE")
  else rm -f "$PASS_FILE"; fi
}

# What the running nodes were started with differs from what is asked now (a cluster runs with one setting).
security_changed() {
  local old_tls=0 old_pass=""
  [[ -f $TLS_MARK ]] && old_tls=1
  [[ -f $PASS_FILE ]] && old_pass=$(<"$PASS_FILE")
  [[ $old_tls != "$TLS" || $old_pass != "$PASS" ]]
}

# Installs a Debian package when its tool is missing (set-up for TLS and passwords only).
need_tool() {
  command -v "$1" >/dev/null 2>&1 && return
  local sudo; sudo=$( ((EUID == 0)) || echo sudo)
  echo "Installing $2 (for $1)..." >&2
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

# A development CA and certificates, made once: ca, client (clientAuth), node1-3 (serverAuth and clientAuth, for
# 127.0.0.1, localhost and the node's namespace address). Private keys are readable by their owner only.
tls_files() {
  local f missing=0
  for f in ca client node1 node2 node3; do [[ -s $TLS_DIR/$f.crt && -s $TLS_DIR/$f.key ]] || missing=1; done
  ((missing)) || return 0
  need_tool openssl openssl
  local tmp="$TLS_DIR.tmp" n
  rm -rf "$tmp"; mkdir -p "$tmp"
  (
    cd "$tmp" && umask 077
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    # sign NAME SUBJECT EXTENSIONS: a leaf certificate signed by the CA
    sign() {
      key "$1"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    key ca
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=RaftKv local development CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
    sign client "/CN=raftkv-client" "extendedKeyUsage=clientAuth"
    for n in "${NODES[@]}"; do
      sign "node$n" "/CN=raftkv-node$n" "extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.211.0.$n"
    done
    rm -f ca.srl
    chmod 644 ./*.crt; chmod 600 ./*.key
    openssl verify -CAfile ca.crt node1.crt node2.crt node3.crt client.crt >/dev/null
  ) || { rm -rf "$tmp"; echo "could not create the TLS certificates" >&2; exit 1; }
  rm -rf "$TLS_DIR"; mv "$tmp" "$TLS_DIR"
}

# Node N's TLS settings: RESP over TLS only, on its usual port; mutual TLS between nodes.
tls_args() {
  [[ $TLS == 1 ]] || return 0
  local n=$1
  printf -- '--RaftKv:Resp:Port=0 --RaftKv:Tls:Port=%s --RaftKv:Tls:CertFile=%s --RaftKv:Tls:KeyFile=%s --RaftKv:Tls:CaCertFile=%s --RaftKv:Tls:Cluster=true ' \
    "$(resp_port "$n")" "$TLS_DIR/node$n.crt" "$TLS_DIR/node$n.key" "$TLS_DIR/ca.crt"
}

# redis-cli's options for this cluster (the password goes in REDISCLI_AUTH, see cli).
cli_tls_args() {
  [[ $TLS == 1 ]] || return 0
  printf -- '--tls --cacert %s --cert %s --key %s ' "$(shown "$TLS_DIR/ca.crt")" "$(shown "$TLS_DIR/client.crt")" "$(shown "$TLS_DIR/client.key")"
}

# The backup tool's TLS options: redis-cli's names, absolute paths.
backup_tls_args() {
  [[ $TLS == 1 ]] || return 0
  printf -- '--tls --cacert %s --cert %s --key %s ' "$TLS_DIR/ca.crt" "$TLS_DIR/client.crt" "$TLS_DIR/client.key"
}

# A path from where the operator stands, made absolute (the tool runs from the repository root).
absolute() { if [[ $1 == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }

# A path as an operator types it from the repository root.
shown() { if [[ $1 == "$ROOT"/* ]]; then echo "${1#"$ROOT"/}"; else echo "$1"; fi; }

need_netns() { [[ $NETNS == 1 ]] || { echo "partition and heal need RAFTKV_NETNS=1" >&2; exit 2; }; }
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

# Sends one command to node N and prints the reply: over a bare socket as an inline command (QUIT makes the server
# close it), or with redis-cli when the cluster has TLS or a password (never on its command line: REDISCLI_AUTH).
resp() {
  local n=$1; shift
  if [[ $TLS == 1 || -n $PASS || -n ${REDISCLI_AUTH:-} ]]; then
    # shellcheck disable=SC2046,SC2048,SC2086 # the option list and the command are meant to split into words
    (cd "$ROOT" && { [[ -z $PASS ]] || export REDISCLI_AUTH=$PASS; } &&
      timeout "${RESP_TIMEOUT:-2}" redis-cli -h "$(host_of "$n")" -p "$(resp_port "$n")" $(cli_tls_args) $* 2>/dev/null) | tr -d '\r' || true
    return
  fi
  timeout "${RESP_TIMEOUT:-2}" bash -c '
    exec 3<>/dev/tcp/'"$(host_of "$n")"'/'"$(resp_port "$n")"' || exit 1
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

# The members prove themselves to each other with one secret: made once per data directory, readable by its owner only.
secret_file() {
  local file="$DATA/cluster-secret"
  if [[ ! -s $file ]]; then
    mkdir -p "$DATA"
    (umask 077 && head -c 32 /dev/urandom | base64 >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  echo "$file"
}

# Node N's configuration file: nodes 1-3 have their own; a joined node (4-9) starts from node1's with its own
# addresses. Every node's RaftKv:Members (a seed list: the members themselves follow the log) names the joined nodes.
config_of() { if (($1 <= 3)); then echo "cluster-config/local/node$1.json"; else echo "cluster-config/local/node1.json"; fi; }

member_args() {
  local n=$1 m scheme=${TRANSPORT:-$(config_scheme)}
  if (( n > 3 )); then
    printf -- '--raft:publicEndPoint=%s://%s:%s/ --RaftKv:Resp:Port=%s ' "$scheme" "$(host_of "$n")" "$(raft_port "$n")" "$(resp_port "$n")"
    [[ $NETNS == 1 ]] && printf -- '--RaftKv:Resp:BindAddress=%s ' "$(host_of "$n")"
  fi
  for m in $( (printf '%s\n' "${NODES[@]}"; echo "$n") | sort -un); do
    (( m > 3 )) || continue
    printf -- '--RaftKv:Members:%s:Raft=%s://%s:%s/ --RaftKv:Members:%s:Resp=%s:%s --RaftKv:Members:%s:Peer=%s:%s ' \
      "$((m - 1))" "$scheme" "$(host_of "$m")" "$(raft_port "$m")" "$((m - 1))" "$(host_of "$m")" "$(resp_port "$m")" "$((m - 1))" "$(host_of "$m")" "$(peer_port "$m")"
  done
}

# A running, unpaused member other than node $1 (to send membership changes through).
other_member() {
  local m
  for m in "${NODES[@]}"; do [[ $m != "$1" ]] && is_running "$m" && ! is_paused "$m" && { echo "$m"; return 0; }; done
  echo "no other running member to send the change to" >&2; return 1
}

member_addresses() {
  local n=$1 scheme=${TRANSPORT:-$(config_scheme)}
  echo "$scheme://$(host_of "$n"):$(raft_port "$n")/ $(host_of "$n"):$(resp_port "$n") $(host_of "$n"):$(peer_port "$n")"
}

# add_member N VIA: starts node N (empty data) with --join, adds it through member VIA, waits until N serves.
add_member() {
  local n=$1 via=$2 answer
  secure_setup
  net_up
  start_node "$n" --join; wait_for_port "$n"
  answer=$(RESP_TIMEOUT=600 resp "$via" "MEMBER.ADD $(member_addresses "$n")")
  if [[ ${answer%%$'\n'*} != *OK ]]; then
    echo "MEMBER.ADD failed: $answer" >&2; stop_node "$n"; return 1
  fi
  # Added once the leader applied it; node N serves once it applied that too (a heartbeat later).
  for _ in $(seq 1 100); do [[ $(resp "$n" "EXISTS raftkv:joined") == :* ]] && break; sleep 0.1; done
}

# remove_member N VIA: removes node N through member VIA, stops it and deletes its data (its node.log stays).
remove_member() {
  local n=$1 via=$2 answer raft
  [[ -n $via ]] || return 1
  raft=$(member_addresses "$n"); raft=${raft%% *}
  answer=$(RESP_TIMEOUT=30 resp "$via" "MEMBER.REMOVE $raft")
  [[ ${answer%%$'\n'*} == *OK ]] || { echo "MEMBER.REMOVE failed: $answer" >&2; return 1; }
  stop_node "$n"
  find "$(node_dir "$n")" -mindepth 1 -maxdepth 1 ! -name node.log -exec rm -rf {} +
}

save_members() { mkdir -p "$DATA"; printf '%s\n' "${NODES[@]}" >"$MEMBERS_FILE.tmp" && mv "$MEMBERS_FILE.tmp" "$MEMBERS_FILE"; }

# start_node N [ARG...]: the extra arguments go to this start only (recover's --recover).
start_node() {
  local n=$1 dir secret; dir=$(node_dir "$n"); shift
  if is_running "$n"; then return; fi
  mkdir -p "$dir"
  secret=$(secret_file)
  rm -f "$dir/pid"
  # setsid -f: a session of its own, so the node outlives this script and a terminal's signals; the child writes
  # its own PID and execs dotnet, so the PID file names the node process itself.
  local extra="RAFTKV_NODE${n}_ARGS" launcher=()
  [[ $NETNS == 1 ]] && launcher=(ip netns exec "rkv$n")
  # shellcheck disable=SC2046 # the argument lists are meant to split into words
  # The password reaches the node in its environment (.NET configuration reads RaftKv__Security__RequirePass), not
  # on its command line where ps shows it.
  (cd "$ROOT" && { [[ -z $PASS ]] || export RaftKv__Security__RequirePass=$PASS; } &&
    setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/pid" \
      "${launcher[@]}" dotnet "$BIN" --config "$(config_of "$n")" --RaftKv:DataPath="$dir" \
      --RaftKv:Peer:ClusterSecretFile="$secret" --RaftKv:Http:Listen="$(host_of "$n"):$(http_port "$n")" $(netns_args "$n") $(member_args "$n") $(tls_args "$n") ${RAFTKV_NODE_ARGS:-} ${!extra:-} "$@" \
      >>"$dir/node.log" 2>&1 </dev/null)
  for _ in $(seq 1 50); do [[ -s $dir/pid ]] && break; sleep 0.02; done
}

wait_for_port() {
  local n=$1
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/"$(host_of "$n")"/"$(resp_port "$n")") 2>/dev/null; then return 0; fi
    is_running "$n" || { echo "node$n exited; last log lines:" >&2; tail -n 5 "$(node_dir "$n")/node.log" >&2; return 1; }
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

# What TLS and passwords need before a node starts: the certificates, and redis-cli to talk to the nodes.
check_security() {
  if [[ $TLS == 1 && ${TRANSPORT:-$(config_scheme)} == http ]]; then
    echo "RAFTKV_TLS=1 needs the TCP Raft transport (a node with mutual TLS between members refuses Raft over HTTP)" >&2; exit 2
  fi
  return 0
}

secure_setup() {
  check_security
  [[ $TLS == 1 ]] && tls_files
  if [[ $TLS == 1 || -n $PASS ]]; then need_tool redis-cli redis-tools; fi
  return 0
}

check_n() {
  local m
  for m in "${NODES[@]}"; do [[ ${1:-} == "$m" ]] && return 0; done
  echo "node number must be one of the members: ${NODES[*]}" >&2; exit 2
}

cmd=${1:-}; shift || true
case "$cmd" in
  start)
    for n in "${NODES[@]}"; do
      if is_running "$n" && security_changed; then
        echo "node$n runs with other TLS/password settings than asked: stop the cluster first" >&2; exit 2
      fi
    done
    check_security
    save_security
    build
    secure_setup
    net_up
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in "${NODES[@]}"; do wait_for_port "$n"; done
    leader=$(wait_for_leader)
    echo "RaftKv cluster is up: leader is node$leader (RESP $(resp_port "$leader")$( ((TLS)) && echo ", TLS only" || true))."
    connect="redis-cli -h $(host_of 1) -p 6381"
    [[ $TLS == 1 && $NETNS != 1 ]] && connect="redis-cli $(cli_tls_args)-p 6381"
    [[ $TLS == 1 && $NETNS == 1 ]] && connect="redis-cli $(cli_tls_args)-h $(host_of 1) -p 6381"
    ports=$(for n in "${NODES[@]}"; do printf '%s, ' "$(resp_port "$n")"; done)
    echo "Connect with:  $connect      (any node: ports ${ports%, }; followers forward writes to the leader)"
    [[ -z $PASS ]] || echo "Password set for the default user: redis-cli reads it from REDISCLI_AUTH (or AUTH <password> once connected)."
    command -v redis-cli >/dev/null || echo "(redis-cli is in Debian's redis-tools package: apt-get install -y redis-tools)"
    ;;
  stop)
    for n in "${NODES[@]}"; do stop_node "$n"; done
    net_down
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
    secure_setup
    net_up
    start_node "$1"; wait_for_port "$1"
    ;;
  recover)
    check_n "${1:-}"; build
    stop_node "$1"
    # Everything the node keeps (log, snapshots, node state, a marker of an earlier recovery) but its log file.
    find "$(node_dir "$1")" -mindepth 1 -maxdepth 1 ! -name node.log -exec rm -rf {} +
    secure_setup
    net_up
    start_node "$1" --recover; wait_for_port "$1"
    ;;
  wipe)
    for n in "${NODES[@]}"; do stop_node "$n"; done
    net_down
    rm -rf "$DATA"
    ;;
  backup)
    [[ -n ${1:-} ]] || { echo "usage: local-cluster.sh backup FILE" >&2; exit 2; }
    build
    n=$(find_leader) || n=""
    [[ -n $n ]] || for m in "${NODES[@]}"; do is_running "$m" && ! is_paused "$m" && { n=$m; break; }; done
    [[ -n $n ]] || { echo "no running node to take the backup from" >&2; exit 1; }
    # shellcheck disable=SC2046 # the TLS option list is meant to split into words
    ( [[ -z $PASS ]] || export REDISCLI_AUTH=$PASS
      dotnet "$BIN" backup --connect "$(host_of "$n"):$(resp_port "$n")" $(backup_tls_args) "$(absolute "$1")" )
    ;;
  restore)
    [[ -n ${1:-} ]] || { echo "usage: local-cluster.sh restore FILE" >&2; exit 2; }
    file=$(absolute "$1"); [[ -f $file ]] || { echo "$1: no such file" >&2; exit 2; }
    build
    for n in "${NODES[@]}"; do stop_node "$n"; done
    # The nodes' data goes; the cluster's secret, certificates and password (beside them in $DATA) stay.
    for n in "${NODES[@]}"; do rm -rf "$(node_dir "$n")"; done
    for n in "${NODES[@]}"; do
      (cd "$ROOT" && dotnet "$BIN" restore "$file" --config "cluster-config/local/node$n.json" --RaftKv:DataPath="$(node_dir "$n")") >/dev/null
    done
    "$0" start
    ;;
  join)
    [[ ${1:-} =~ ^[4-9]$ ]] || { echo "usage: local-cluster.sh join N (N in 4..9)" >&2; exit 2; }
    for m in "${NODES[@]}"; do [[ $m == "$1" ]] && { echo "node$1 is already a member" >&2; exit 2; }; done
    [[ $TLS == 1 ]] && { echo "join: this script makes TLS certificates for nodes 1-3 only; see docs/membership.md for a TLS member" >&2; exit 2; }
    build
    leader=$(find_leader) || { echo "no leader: start the cluster first" >&2; exit 1; }
    rm -rf "$(node_dir "$1")"
    NODES+=("$1")
    add_member "$1" "$leader" || exit 1
    save_members
    echo "node$1 joined: RESP $(resp_port "$1"), Raft $(raft_port "$1"), peer $(peer_port "$1"); members ${NODES[*]}"
    ;;
  remove)
    check_n "${1:-}"
    (( ${#NODES[@]} > 1 )) || { echo "node$1 is the last member" >&2; exit 2; }
    remove_member "$1" "$(other_member "$1")" || exit 1
    mapfile -t NODES < <(printf '%s\n' "${NODES[@]}" | grep -vx "$1")
    save_members
    echo "node$1 removed and stopped; members ${NODES[*]}"
    ;;
  replace)
    # The same addresses, new data: remove node N, delete its data, start it with --join and add it again.
    check_n "${1:-}"
    (( ${#NODES[@]} > 2 )) || { echo "replace needs at least three members" >&2; exit 2; }
    build
    via=$(other_member "$1")
    remove_member "$1" "$via" || exit 1
    add_member "$1" "$via" || exit 1
    echo "node$1 replaced; members ${NODES[*]}"
    ;;
  members)
    n=$(find_leader) || { echo "no leader" >&2; exit 1; }
    # Raw RESP (or redis-cli's lines): the values, four per member.
    resp "$n" "MEMBER.LIST" | grep -v -e '^[*$]' -e '^+OK$' | paste - - - - | sed 's/\t/  /g'
    ;;
  partition) need_netns; check_n "${1:-}"; ip link set "rkv$1-h" down ;;
  heal)
    need_netns
    if [[ -n ${1:-} ]]; then check_n "$1"; ip link set "rkv$1-h" up
    else for n in "${NODES[@]}"; do ip link set "rkv$n-h" up 2>/dev/null || true; done; fi
    ;;
  host) check_n "${1:-}"; host_of "$1" ;;
  *) sed -n '2,46p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
