set -euo pipefail
node='srv712429'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
fail() { printf '%s FAILED node=%s reason=%s\n' 'CONFIRM' "$node" "$*" >&2; exit 1; }
reverted() {
    if [ -e "$change_dir/reverted-at" ]; then
        fail "the revert already ran at $(cat "$change_dir/reverted-at"): the change did not stick; see $change_dir/revert.log on the node"
    fi
}
reverted
systemctl stop "$unit.timer" 2>/dev/null || true
reverted
rm -f "$change_dir/armed-at"
date +%s >"$change_dir/confirmed-at"
echo "confirmed: k3s on $node; revert disarmed"
