#!/usr/bin/env bash
# Builds the k3s stand-in (this directory, Go standard library only) into a cache keyed by its
# source, and prints the binary's path. The node lab's release server serves it with a release
# trailer per version. Usage: test/lab/k3s-standin/build.sh [--cached-only]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib.sh"

src=$OCEANID_ROOT/test/lab/k3s-standin
key=$(cd "$src" && find . -name '*.go' -not -name '*_test.go' -o -name go.mod | sort | xargs cat | sha256sum | cut -c1-12)
dir=$OCEANID_CACHE/k3s-standin-$key
if [ ! -x "$dir/k3s" ]; then
    if [ "${1:-}" = "--cached-only" ]; then
        echo "the k3s stand-in is not built yet (run npm run setup)" >&2
        exit 3
    fi
    command -v go >/dev/null || { echo "k3s-standin: no go on PATH (Go >= $GO_MIN_VERSION)" >&2; exit 1; }
    mkdir -p "$dir"
    if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/k3s.tmp" .) >"$dir/build.log" 2>&1; then
        tail -n 20 "$dir/build.log" >&2
        echo "k3s-standin: go build failed (log: $dir/build.log)" >&2
        exit 1
    fi
    mv "$dir/k3s.tmp" "$dir/k3s"
fi
echo "$dir/k3s"
