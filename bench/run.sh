#!/usr/bin/env bash
# Runs every benchmark in one go and prints Markdown (copy the figures into bench/README.md).
# Each benchmark measures its own baseline in the same run; run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo; echo "### $*"; node --require tsx/cjs "$@"; }
run bench/evaluate.ts --evals "${EVALS:-1000000}"
run bench/http-decide.ts --identities "${IDENTITIES:-100000}" --duration "${DURATION:-10}"
for extra in bench/import.ts bench/state-lookup.ts bench/callers.ts bench/scim-provision.ts bench/policy-reload.ts; do
  if [ -f "$extra" ]; then run "$extra"; fi
done
