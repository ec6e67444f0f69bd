#!/usr/bin/env bash
# Set up and run every test: type checks, jest (all packages), go test (e2e/). Ends with one line
# "N passed, N failed" summed over all suites; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d "${TMPDIR:-/tmp}/k8s-kms-results.XXXXXX")
trap 'rm -rf "$results"' EXIT
status=0
# A check: its name, then the command; counted as one passed or failed test in the closing line.
check() {
  local name=$1
  shift
  if "$@"; then echo "ok" > "$results/check-$name"; else echo "failed" > "$results/check-$name"; status=1; fi
}

# A failure before any suite ran still ends with the closing line CI reads.
command -v git >/dev/null 2>&1 || { echo "test: git is required (the set-up check compares the checkout before and after)" >&2; echo "0 passed, 1 failed"; exit 1; }
before=$(git status --porcelain)
bash scripts/setup.sh || { echo "test: set-up failed" >&2; echo "0 passed, 1 failed"; exit 1; }
setup_leaves_checkout_unchanged() {
  [ "$(git status --porcelain)" = "$before" ] && return 0
  echo "test: scripts/setup.sh changed the checkout:" >&2
  git status --porcelain >&2
  return 1
}
echo "== set-up leaves the checkout unchanged"
check setup-leaves-checkout-unchanged setup_leaves_checkout_unchanged
bash scripts/setup-test-tools.sh || { echo "test: set-up of the test tools failed" >&2; echo "0 passed, 1 failed"; exit 1; }
command -v go >/dev/null 2>&1 || { echo "test: Go is required for the e2e tests (go 1.26 or newer)" >&2; echo "0 passed, 1 failed"; exit 1; }
# moto may live in the project's own venv (see setup-test-tools.sh).
[ -d .cache/moto-venv/bin ] && export PATH="$PWD/.cache/moto-venv/bin:$PATH"

echo "== the demo on Node.js and npm only"
check demo-on-node-only bash scripts/check-demo.sh

echo "== type-check tests"
check typecheck npx --no-install tsc -p tsconfig.tests.json

echo "== lint (eslint, prettier, import cycles)"
check lint npm run --silent lint

echo "== jest"
node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
  --json --outputFile="$results/jest.json" || status=1

echo "== the npm packages from their tarballs, in a project outside the repository"
check packages-from-tarballs node scripts/check-packages.mjs

echo "== build kube-apiserver, etcd, kubectl for e2e"
check e2e-tools-build bash scripts/build-e2e-tools.sh

echo "== go test (e2e)"
(cd e2e && go test -json -count=1 -timeout 40m ./... > "$results/go.json"; echo $? > "$results/go.rc")
node scripts/print-go-results.mjs "$results/go.json" || status=1
[ "$(cat "$results/go.rc")" = 0 ] || status=1

echo "== nothing the tests ran changed the checkout"
check tests-leave-checkout-unchanged setup_leaves_checkout_unchanged

node scripts/summarize.mjs "$results"
exit $status
