#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it (and .ci/run on a clean clone):
#   1. services the integration tests need (nginx), installed and checked by our own script;
#   2. a strict type check of src/, test/ and bench/;
#   3. the shipped policies' Rego unit tests through `tether test --strict` (OPA's strict mode: no unused
#      imports or := vars);
#   4. jest (unit, HTTP, integration and Rego conformance tests).
# Ends with one summary line "N passed, N failed, N skipped" over all jest tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/nginx-test-setup.sh ] || [ -f scripts/nginx-test-setup.sh ]; then
  bash scripts/nginx-test-setup.sh
fi

echo "== type check"
npx tsc -p tsconfig.json --noEmit

echo "== policy unit tests (tether test --strict policies)"
npx tsx src/cli.ts test --strict policies

echo "== jest"
report="$(mktemp)"
status=0
npx jest --ci --json --outputFile="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
