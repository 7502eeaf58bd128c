#!/usr/bin/env bash
# Runs RaftKv's whole test suite on a fresh machine: installs what the tests need, builds once, runs every test
# project, and ends with one summary line. Exit code 0 only if every test passed.
#   ./run-tests.sh              the whole suite (the fuzzers run a fixed list of seeds, a minute or so)
#   ./run-tests.sh --fuzz 600   only the fuzzers, on fresh random seeds for 600 s each; a failure prints its seed
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

filter=()
projects=(tests/*/*.Tests.csproj)
if [[ ${1:-} == --fuzz ]]; then
  export RAFTKV_FUZZ_SECONDS=${2:-600}
  filter=(--filter "FullyQualifiedName~.Fuzz.")
  projects=(tests/RaftKv.StateMachine.Tests/RaftKv.StateMachine.Tests.csproj tests/RaftKv.Node.Tests/RaftKv.Node.Tests.csproj)
fi

need() { command -v "$1" >/dev/null 2>&1; }

# --- set-up -----------------------------------------------------------------------------------------------------
need dotnet || { echo "The .NET 10 SDK is required (https://dot.net)." >&2; exit 1; }
# Debian packages the tests use: redis-server (differential tests compare replies with a real Redis), redis-tools
# (redis-cli, driven as a real client), and the process tools local-cluster.sh relies on.
packages=()
need redis-server || packages+=(redis-server)
need redis-cli || packages+=(redis-tools)
for tool in setsid timeout ps; do need "$tool" || packages+=(util-linux coreutils procps); done
need ip || packages+=(iproute2)   # the chaos tests put each node in a network namespace of its own
need openssl || packages+=(openssl)   # local-cluster.sh makes the TLS chaos run's certificates with it
need systemd-analyze || packages+=(systemd)   # the deploy tests verify the systemd unit with it (no running systemd needed)
need kubectl || packages+=(kubernetes-client)   # the deploy tests build the Kubernetes manifests with kubectl kustomize (offline)
if ((${#packages[@]})); then
  echo "== installing ${packages[*]}"
  sudo=$( ((EUID == 0)) || echo sudo)
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # The package starts a system redis on 6379; the tests start their own on free ports.
  ($sudo systemctl stop redis-server || $sudo service redis-server stop || true) >/dev/null 2>&1
fi

# Stale nodes from an interrupted run would hold the ports (or the network namespaces) the process-level tests use.
RAFTKV_NO_BUILD=1 cluster-config/local-cluster.sh stop >/dev/null 2>&1 || true
RAFTKV_NO_BUILD=1 RAFTKV_NETNS=1 cluster-config/local-cluster.sh stop >/dev/null 2>&1 || true

# --- build once -------------------------------------------------------------------------------------------------
echo "== build (Release)"
dotnet build RaftKv.sln -c Release -nologo -v q -clp:ErrorsOnly

# --- test -------------------------------------------------------------------------------------------------------
export RAFTKV_NO_BUILD=1   # the process-level tests reuse the build above
results=$(mktemp -d)
export RAFTKV_CHAOS_OUT="$results/chaos"   # chaos histories, reports and their summary lines
export RAFTKV_FUZZ_OUT="$results/fuzz.log"  # one line per fuzzer: seeds and cases run
status=0
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  dotnet test "$project" -c Release --no-build -nologo \
      --logger "console;verbosity=minimal" --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
      --blame-hang-timeout 5m "${filter[@]}" || status=1
done

# --- summary ----------------------------------------------------------------------------------------------------
echo
echo "== summary"
total_passed=0; total_failed=0; total_skipped=0
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  trx="$results/$name.trx"
  counters=$(grep -ao '<Counters [^>]*>' "$trx" 2>/dev/null || true)
  if [[ -z $counters ]]; then echo "  $name: did not run to completion"; status=1; continue; fi
  count() { sed -E "s/.* $1=\"([0-9]+)\".*/\1/" <<<"$counters"; }
  passed=$(count passed); failed=$(( $(count failed) + $(count error) + $(count timeout) + $(count aborted) ))
  skipped=$(( $(count total) - $(count executed) ))
  printf '  %-28s passed %4s  failed %3s  skipped %3s\n' "$name" "$passed" "$failed" "$skipped"
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed)); total_skipped=$((total_skipped + skipped))
done
if [[ -f $RAFTKV_FUZZ_OUT ]]; then
  echo "  fuzzers:"
  sed 's/^/    /' "$RAFTKV_FUZZ_OUT"
fi
if [[ -f $RAFTKV_CHAOS_OUT/summaries.log ]]; then
  echo "  chaos runs (histories and reports in $RAFTKV_CHAOS_OUT):"
  sed 's/^/    /' "$RAFTKV_CHAOS_OUT/summaries.log"
fi
verdict=$([[ $status == 0 && $total_failed == 0 && $total_skipped == 0 ]] && echo PASS || echo FAIL)
echo "RaftKv tests: $verdict — $total_passed passed, $total_failed failed, $total_skipped skipped (details: $results)"
[[ $verdict == PASS ]]
