#!/usr/bin/env bash
# Builds kube-read (scripts/toolchain/kube-read: kubectl's manifest reader from
# k8s.io/cli-runtime and k8s.io/apimachinery) into a cache keyed by the module
# versions and the source, and prints the binary's path. Needs Go only when the
# cache is empty. Usage: bench/build-kube-read.sh [--cached-only]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

src=$OCEANID_ROOT/scripts/toolchain/kube-read
cli_runtime=$(sed -n 's/^\tk8s.io\/cli-runtime \(v[^ ]*\)$/\1/p' "$src/go.mod")
key=$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)
dir=$OCEANID_CACHE/bench/kube-read-cli-runtime-$cli_runtime-$key
if [ ! -x "$dir/kube-read" ]; then
    if [ "${1:-}" = "--cached-only" ]; then
        echo "kube-read is not built yet (run bench/build-kube-read.sh)" >&2
        exit 3
    fi
    command -v go >/dev/null || { echo "build-kube-read: no go on PATH (Go >= $GO_MIN_VERSION)" >&2; exit 1; }
    mkdir -p "$dir"
    if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$dir/kube-read.tmp" .) >"$dir/build.log" 2>&1; then
        tail -n 20 "$dir/build.log" >&2
        echo "build-kube-read: go build failed (log: $dir/build.log)" >&2
        exit 1
    fi
    mv "$dir/kube-read.tmp" "$dir/kube-read"
fi
echo "$dir/kube-read"
