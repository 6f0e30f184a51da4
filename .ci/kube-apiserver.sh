#!/usr/bin/env bash
# Builds the kube-apiserver (k8s.io/kubernetes v1.37.1, the release that matches
# client-go v0.37.1) and the etcd it is tested with (v3.7.0) from the Go module
# proxy, for the tests that talk to a real API server (discover/cluster,
# stridemap observe --kubeconfig). The build module is .ci/kube.
#
# The binaries go to $STRIDEMAP_KUBE_BIN, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/stridemap/kube-v1.37.1, where the tests look
# for them. A cold build takes 6 to 32 minutes on 2 cores (the busier the
# machine, the longer), so nothing is done when the binaries there were built
# from the same .ci/kube/go.mod and go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${STRIDEMAP_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/stridemap/kube-v1.37.1}

cd "$here/kube"
stamp=$(cat go.mod go.sum | sha256sum | cut -d' ' -f1)
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building kube-apiserver v1.37.1 and etcd v3.7.0 into $dir (minutes the first time)"
start=$SECONDS
# Static binaries, as Kubernetes releases them; the version stamp is what
# /version reports.
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
version="-X k8s.io/component-base/version.gitVersion=v1.37.1 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
go build -trimpath -ldflags "-s -w $version" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$dir/"
echo "$stamp" >"$dir/stamp"
echo "built kube-apiserver and etcd in $((SECONDS - start))s"
