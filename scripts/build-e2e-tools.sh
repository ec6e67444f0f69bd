#!/usr/bin/env bash
# Build kube-apiserver, etcd and kubectl for the e2e tests from the Go module proxy
# (e2e/tools/go.mod pins the Kubernetes release). Cached: the Go module and build caches make a
# rebuild quick, and nothing is rebuilt while e2e/tools is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../e2e/tools"
command -v go >/dev/null 2>&1 || { echo "build-e2e-tools: Go is required (go 1.26 or newer)" >&2; exit 1; }

k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$k8s_version" | cut -d. -f2)
[ -n "$minor" ] || { echo "build-e2e-tools: cannot read the Kubernetes version from e2e/tools/go.mod" >&2; exit 1; }
out=../.bin
stamp="$out/.stamp"
want=$(cat go.mod go.sum */main.go | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  echo "build-e2e-tools: kube-apiserver, etcd and kubectl $k8s_version are up to date"
  exit 0
fi
echo "build-e2e-tools: building kube-apiserver, etcd and kubectl $k8s_version (first build takes several minutes)"
mkdir -p "$out"
pkg=k8s.io/component-base/version
go build -o "$out/" -ldflags "-X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
  ./kube-apiserver ./etcd ./kubectl
echo "$want" > "$stamp"
