#!/usr/bin/env bash
# What a release does: a clean install from the lockfile, a clean build, the packed-tarball check,
# then `npm publish` of every publishable package. A dry run unless --publish is given (and only
# a maintainer of the @k8s-kms scope can publish; see the root README, "Releases").
set -euo pipefail
cd "$(dirname "$0")/.."
mode=--dry-run
[ "${1:-}" = "--publish" ] && mode=
[ -z "$(git status --porcelain)" ] || { echo "release: the checkout has changes; release from a clean one" >&2; exit 1; }
npm ci --no-audit --no-fund
rm -rf packages/*/dist
npx --no-install turbo run build --force
[ -d .cache/moto-venv/bin ] && export PATH="$PWD/.cache/moto-venv/bin:$PATH"
node scripts/check-packages.mjs
for dir in packages/*/; do
  [ "$(node -p "require('./${dir}package.json').private === true")" = true ] && continue
  (cd "$dir" && npm publish --access public $mode)
done
echo "release: ${mode:-published}"
