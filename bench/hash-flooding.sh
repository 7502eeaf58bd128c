#!/usr/bin/env bash
# Hash flooding, before and after keyed hashing, in one run: bench/HashFlooding built against this tree ("after"),
# then against the StateMachine of BASE ("before": by default the commit before ByteArrayComparer became SipHash),
# exported with git archive to a temporary directory (the repository and work tree are not touched).
#   bench/hash-flooding.sh [--base COMMIT] [KEYS] [ROUNDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
base=
if [[ ${1:-} == --base ]]; then base=$2; shift 2; fi
if [[ -z $base ]]; then
  introduced=$(git log --format=%H -S SipHash -- src/StateMachine/ByteArrayComparer.cs | tail -1)
  base=${introduced:+$introduced~1}
  base=${base:-HEAD}
fi
keys=${1:-40000}
rounds=${2:-5}

echo "== after: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + local changes')"
dotnet run -c Release --project bench/HashFlooding -v q -- "$keys" "$rounds"
echo

before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
git archive "$base" Directory.Build.props Directory.Packages.props src/StateMachine | tar -x -C "$before"
[[ -f nuget.config ]] && cp nuget.config "$before/"
mkdir -p "$before/bench" && cp -r bench/HashFlooding "$before/bench/"
rm -rf "$before/bench/HashFlooding/bin" "$before/bench/HashFlooding/obj"
echo "== before: $(git rev-parse --short "$base")"
dotnet run -c Release --project "$before/bench/HashFlooding" -p:UnseededStore=true -v q -- "$keys" "$rounds"
