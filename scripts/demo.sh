#!/usr/bin/env bash
# Set up (Node.js and npm only), create a key file, start kms-plugin-local on a socket, and show
# one Encrypt/Decrypt round trip through it (KMS v2 and v1beta1). Keeps serving until Ctrl-C when
# run from a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/k8s-kms-demo.XXXXXX")
plugin=
trap '[ -n "$plugin" ] && { kill -TERM $plugin 2>/dev/null; wait $plugin 2>/dev/null; }; rm -rf "$work"' EXIT
socket="$work/kms.sock"
plugin_bin=node_modules/.bin/kms-plugin-local
"$plugin_bin" init --key-file "$work/local.key"
# The binary itself, not npx: npx does not pass SIGTERM on to the plugin.
"$plugin_bin" --listen-addr "unix://$socket" --key-file "$work/local.key" --health-addr 127.0.0.1:0 --log-level warn &
plugin=$!

for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "demo: the plugin did not create its socket" >&2; exit 1; }

echo
echo "kms-plugin-local is serving on unix://$socket (key file $work/local.key, mode 0600)"
echo
node_modules/.bin/kms-roundtrip "unix://$socket"
echo
echo "Point kube-apiserver at it with an EncryptionConfiguration like:"
cat <<YAML
  resources:
    - resources: [secrets, configmaps]
      providers:
        - kms:
            apiVersion: v2
            name: local
            endpoint: unix://$socket
            timeout: 3s
        - identity: {}
YAML
if [ -t 0 ] && [ "${DEMO_EXIT:-}" != 1 ]; then
  echo
  echo "Serving; press Ctrl-C to stop."
  wait $plugin
fi
