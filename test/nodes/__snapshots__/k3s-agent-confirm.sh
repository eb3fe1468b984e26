set -euo pipefail
node='srv712695'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
fail() { printf '%s FAILED node=%s reason=%s\n' 'CONFIRM' "$node" "$*" >&2; exit 1; }
state_file="$change_dir/state"
read_state() {
    state="" id="" armed_at="" deadline="" at="" reason=""
    if [ -s "$state_file" ]; then
        { IFS= read -r state; IFS= read -r id; IFS= read -r armed_at; IFS= read -r deadline; IFS= read -r at; IFS= read -r reason; } <"$state_file" || true
    fi
}
write_state() {
    state=$1 reason=${2:-} at=$(date +%s)
    printf '%s\n' "$state" "$id" "$armed_at" "$deadline" "$at" "$reason" >"$state_file.new"
    sync "$state_file.new"
    mv -f "$state_file.new" "$state_file"
    sync "$change_dir"
    printf '%s %s %s %s\n' "$at" "$state" "$id" "$reason" >>"$change_dir/history"
}
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# Why the node cannot take a new change, and the way out; nothing (status 1) when it can.
unresolved() {
    local now
    now=$(date +%s)
    case $state in
        armed)
            if ((now < deadline)); then
                echo "the k3s change $id armed at $(utc "$armed_at") is neither confirmed nor reverted: it reverts at $(utc "$deadline") (in $((deadline - now))s); wait for that, or revert it now with: sudo $change_dir/revert.sh --now"
            else
                echo "the k3s change $id armed at $(utc "$armed_at") is neither confirmed nor reverted, and its revert was due at $(utc "$deadline"): revert it now with: sudo $change_dir/revert.sh --now"
            fi ;;
        reverting) echo "the revert of the k3s change $id is running since $(utc "$at"); wait for it (journalctl -u $unit.service)" ;;
        revert-failed) echo "the revert of the k3s change $id failed at $(utc "$at"): $reason; the node may still run the change: put it right by hand (docs/runbooks/node-changes.md), then record that with: sudo $change_dir/revert.sh --resolved" ;;
        *) return 1 ;;
    esac
}
# The state as the Node condition OceanidNodeChange, with the node's own kubelet identity
# (the API server's NodeRestriction lets a node write its own status). Best effort: a node cut
# off cannot report, and preflight reads the state file anyway.
report_state() {
    local status=True kind message creds=/var/lib/rancher/k3s/agent now try tries
    case $state in
        armed) kind=Armed message="k3s change $id armed at $(utc "$armed_at"); reverts at $(utc "$deadline") unless confirmed" ;;
        reverting) kind=Reverting message="k3s change $id: revert started at $(utc "$at")" ;;
        revert-failed) kind=RevertFailed message="k3s change $id: revert failed at $(utc "$at"): $reason" ;;
        reverted) status=False kind=Reverted message="k3s change $id: reverted at $(utc "$at")" ;;
        confirmed) status=False kind=Confirmed message="k3s change $id: confirmed at $(utc "$at")" ;;
        *) return 0 ;;
    esac
    [ -r "$creds/client-kubelet.crt" ] && [ -r "$creds/client-kubelet.key" ] && [ -r "$creds/server-ca.crt" ] || return 0
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    message=${message//[\"\\]/}
    tries=${report_tries:-1}
    for try in $tries; do
        if curl -fsS -o /dev/null --max-time 3 --cacert "$creds/server-ca.crt" --cert "$creds/client-kubelet.crt" --key "$creds/client-kubelet.key" \
            -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
            --data "{\"status\":{\"conditions\":[{\"type\":\"OceanidNodeChange\",\"status\":\"$status\",\"reason\":\"$kind\",\"message\":\"$message\",\"lastHeartbeatTime\":\"$now\",\"lastTransitionTime\":\"$now\"}]}}" \
            'https://157.173.210.123:6443/api/v1/nodes/srv712695/status' 2>/dev/null; then
            return 0
        fi
        [ "$try" = "${tries##* }" ] || sleep 2
    done
    echo "could not report the change's state ($kind) to the API server" >&2
}
disarm() {
    systemctl disable --now "$unit.timer" >/dev/null 2>&1 || true
    systemctl disable "$unit.service" >/dev/null 2>&1 || true
    rm -f "/etc/systemd/system/$unit.timer" "/etc/systemd/system/$unit.service"
    systemctl daemon-reload || true
}
expected='20261204T210000Z-0a1b2c3d'
rerun='pulumi up --replace '\''urn:pulumi:prod::oceanid-infra::x::y-k3s-change-preflight'\'''
reverted() {
    if [ "$state" = reverting ]; then
        fail "the revert of the k3s change $id started at $(utc "$at"), before it was confirmed: $node is going back to its state before the change (see $change_dir/revert.log); to run the change again: $rerun"
    fi
    fail "the k3s change $id was reverted at $(utc "$at"), before it was confirmed: $node is back to its state before the change (see $change_dir/revert.log); to run the change again: $rerun"
}
exec 9>"$change_dir/lock"
if ! flock -w 5 9; then
    # Held past apply: the revert, which keeps it until it is over. It has won; say so now.
    read_state
    case $state in
        reverting | reverted) reverted ;;
        *) fail "$change_dir/lock is held, and the k3s change is $state: run again in a moment (see $change_dir/revert.log on the node)" ;;
    esac
fi
read_state
if [ "$state" = confirmed ] && [ "$id" = "$expected" ]; then
    echo "confirmed: k3s change $id on $node (already); revert disarmed"
    exit 0
fi
case $state in
    armed)
        [ "$id" = "$expected" ] || fail "the armed k3s change is $id, not this run's $expected: another run armed it; let it finish"
        write_state confirmed
        disarm
        report_state
        echo "confirmed: k3s change $id on $node; revert disarmed" ;;
    reverting | reverted) reverted ;;
    revert-failed)
        fail "the revert of the k3s change $id started before it was confirmed, and failed: $reason; see docs/runbooks/node-changes.md" ;;
    *) fail "no k3s change is armed on $node (expected $expected)" ;;
esac
