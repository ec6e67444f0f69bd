#!/usr/bin/env bash
# The set-up the plugins need, with Node.js and npm only: the locked npm packages (npm ci), the
# generated protos and a build. Safe to run again: it skips what is already done, and it leaves
# the checkout as it found it (the lockfile is installed, never rewritten).
# The tools the tests need beyond Node (moto, OpenBao) are scripts/setup-test-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required ($2)" >&2; exit 1; }; }
need node "Node.js 20.11 or newer"
need npm "npm, which comes with Node.js"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<11)) { console.error(`setup: Node.js >= 20.11 is required, found ${process.versions.node}`); process.exit(1); }'

# Install exactly the locked versions, only when a manifest or the lockfile changed since the last
# install. The lockfile lists every platform's optional binaries (turbo, buf); npm ci installs
# only this platform's.
stamp=node_modules/.k8s-kms-lock.sha
want=$(node -e 'const {createHash}=require("crypto"),fs=require("fs"),h=createHash("sha256");for(const f of process.argv.slice(1))h.update(fs.readFileSync(f));console.log(h.digest("hex"))' package.json packages/*/package.json package-lock.json)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages from the lockfile (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

echo "setup: building (turbo: generate protos, compile)"
TURBO_TELEMETRY_DISABLED=1 npx --no-install turbo run build --output-logs=errors-only
