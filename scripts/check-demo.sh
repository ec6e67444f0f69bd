#!/usr/bin/env bash
# The README's first command on a machine with Node.js and npm only: runs scripts/demo.sh in a
# fresh copy of the checkout (its files as git sees them: no node_modules, no build, no turbo
# cache, so set-up really installs and builds), with a PATH that holds node, npm and the POSIX
# tools a shell script uses, and no Python, Go or git. Passes when both round trips match and the
# demo names its provider as the README does.
set -uo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d "${TMPDIR:-/tmp}/k8s-kms-node-only.XXXXXX")
tree=$(mktemp -d "${TMPDIR:-/tmp}/k8s-kms-fresh.XXXXXX")
trap 'rm -rf "$bin" "$tree"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && mkdir -p "$tree/$(dirname "$f")" && cp -p "$f" "$tree/$f"
done
for tool in node npm npx bash sh env cat cut mktemp seq sleep rm kill dirname mkdir chmod ls head tr sed grep uname cp mv ln; do
  path=$(command -v "$tool") && [ -n "$path" ] && [ "${path#/}" != "$path" ] && ln -s "$path" "$bin/$tool"
done
for absent in python3 python go git pip; do
  [ -e "$bin/$absent" ] && { echo "check-demo: $absent must not be on the Node-only PATH" >&2; exit 1; }
done

out=$(cd "$tree" && PATH="$bin" DEMO_EXIT=1 bash scripts/demo.sh 2>&1 </dev/null)
rc=$?
fail() { echo "check-demo: $1" >&2; echo "$out" | tail -20 >&2; exit 1; }
[ $rc -eq 0 ] || fail "scripts/demo.sh exited $rc with only Node.js and npm on PATH"
[ "$(echo "$out" | grep -c 'plaintext matches')" -eq 2 ] || fail "the demo did not show both round trips"
demo_name=$(echo "$out" | sed -n 's/^ *name: //p' | head -1)
readme_name=$(sed -n '/^## Point kube-apiserver at it/,/^## /s/^ *name: \([^ ]*\).*/\1/p' README.md | head -1)
[ -n "$demo_name" ] && [ "$demo_name" = "$readme_name" ] ||
  fail "the demo names its provider \"$demo_name\", the README \"$readme_name\": the name is part of every stored object and must match"
echo "check-demo: the demo ran with Node.js and npm only, and names its provider \"$demo_name\" as the README does"
