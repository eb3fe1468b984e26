#!/usr/bin/env bash
# Installs checkov (the comparison scanner) from PyPI into a venv cached by
# version under ~/.cache/oceanid-infra/bench/, and prints the path of its
# executable. Idempotent: a second run only checks the venv.
# Usage: bench/setup-checkov.sh [--cached-only]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

CHECKOV_VERSION=3.3.30
venv=$OCEANID_CACHE/bench/checkov-$CHECKOV_VERSION
if [ ! -f "$venv/.complete" ]; then
    if [ "${1:-}" = "--cached-only" ]; then
        echo "checkov $CHECKOV_VERSION is not installed yet (run bench/setup-checkov.sh)" >&2
        exit 3
    fi
    python=$(command -v python3.11 || command -v python3 || true)
    [ -n "$python" ] || { echo "setup-checkov: no python3 on PATH" >&2; exit 1; }
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    log=$(dirname "$venv")/checkov-$CHECKOV_VERSION-install.log
    if ! { "$python" -m venv "$venv" && "$venv/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "setup-checkov: installing checkov==$CHECKOV_VERSION failed (log: $log)" >&2
        exit 1
    fi
    touch "$venv/.complete"
fi
echo "$venv/bin/checkov"
