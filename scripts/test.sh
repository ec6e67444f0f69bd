#!/usr/bin/env bash
# Set up and run every test: type checks, jest (all packages), go test (e2e/). Ends with one line
# "N passed, N failed" summed over all suites; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
# A failure before any suite ran still ends with the closing line CI reads.
bash scripts/setup.sh || { echo "test: set-up failed" >&2; echo "0 passed, 1 failed"; exit 1; }
command -v go >/dev/null 2>&1 || { echo "test: Go is required for the e2e tests (go 1.26 or newer)" >&2; echo "0 passed, 1 failed"; exit 1; }
# moto may live in the project's own venv (see setup.sh).
[ -d .cache/moto-venv/bin ] && export PATH="$PWD/.cache/moto-venv/bin:$PATH"

results=$(mktemp -d "${TMPDIR:-/tmp}/k8s-kms-results.XXXXXX")
status=0

echo "== type-check tests"
if npx --no-install tsc -p tsconfig.tests.json; then echo "typecheck ok" > "$results/typecheck"; else echo "typecheck failed" > "$results/typecheck"; status=1; fi

echo "== lint (eslint, prettier, import cycles)"
if npm run --silent lint; then echo "lint ok" > "$results/lint"; else echo "lint failed" > "$results/lint"; status=1; fi

echo "== jest"
node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
  --json --outputFile="$results/jest.json" || status=1

echo "== build kube-apiserver, etcd, kubectl for e2e"
bash scripts/build-e2e-tools.sh || status=1

echo "== go test (e2e)"
(cd e2e && go test -json -count=1 -timeout 40m ./... > "$results/go.json"; echo $? > "$results/go.rc")
node scripts/print-go-results.mjs "$results/go.json" || status=1
[ "$(cat "$results/go.rc")" = 0 ] || status=1

node scripts/summarize.mjs "$results"
rm -rf "$results"
exit $status
