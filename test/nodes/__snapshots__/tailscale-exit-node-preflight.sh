set -euo pipefail
node='srv712429'
change_dir='/var/lib/oceanid/changes/tailscale'
unit='oceanid-revert-tailscale'
fail() { printf '%s FAILED node=%s reason=%s\n' 'PREFLIGHT' "$node" "$*" >&2; exit 1; }
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
                echo "the tailscale change $id armed at $(utc "$armed_at") is neither confirmed nor reverted: it reverts at $(utc "$deadline") (in $((deadline - now))s); wait for that, or revert it now with: sudo $change_dir/revert.sh --now"
            else
                echo "the tailscale change $id armed at $(utc "$armed_at") is neither confirmed nor reverted, and its revert was due at $(utc "$deadline"): revert it now with: sudo $change_dir/revert.sh --now"
            fi ;;
        reverting) echo "the revert of the tailscale change $id is running since $(utc "$at"); wait for it (journalctl -u $unit.service)" ;;
        revert-failed) echo "the revert of the tailscale change $id failed at $(utc "$at"): $reason; the node may still run the change: put it right by hand (docs/runbooks/node-changes.md), then record that with: sudo $change_dir/revert.sh --resolved" ;;
        *) return 1 ;;
    esac
}
# The state as the Node condition OceanidNodeChange, with the node's own kubelet identity
# (the API server's NodeRestriction lets a node write its own status). Best effort: a node cut
# off cannot report, and preflight reads the state file anyway.
report_state() {
    local status=True kind message creds=/var/lib/rancher/k3s/agent now try tries
    case $state in
        armed) kind=Armed message="tailscale change $id armed at $(utc "$armed_at"); reverts at $(utc "$deadline") unless confirmed" ;;
        reverting) kind=Reverting message="tailscale change $id: revert started at $(utc "$at")" ;;
        revert-failed) kind=RevertFailed message="tailscale change $id: revert failed at $(utc "$at"): $reason" ;;
        reverted) status=False kind=Reverted message="tailscale change $id: reverted at $(utc "$at")" ;;
        confirmed) status=False kind=Confirmed message="tailscale change $id: confirmed at $(utc "$at")" ;;
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
            'https://127.0.0.1:6443/api/v1/nodes/srv712429/status' 2>/dev/null; then
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
read_state
if why=$(unresolved); then fail "$why"; fi
mkdir -p "$change_dir"
backup_need_kib=0
for p in '/usr/sbin/tailscaled' '/usr/bin/tailscale' '/etc/systemd/system/tailscaled.service' '/etc/default/tailscaled' '/etc/sysctl.d/99-oceanid-exit-node.conf' '/var/lib/tailscale/tailscaled.state'; do
    if [ -e "$p" ]; then backup_need_kib=$((backup_need_kib + $(du -sk -- "$p" | cut -f1))); fi
done
backup_free_kib=$(df -Pk "$change_dir" | awk 'NR==2 {print $4}')
if ((backup_free_kib < backup_need_kib + 1024)); then
    fail "only $((backup_free_kib / 1024)) MiB free under $change_dir for the backup; it needs $((backup_need_kib / 1024 + 1)) MiB: free space on that filesystem"
fi
echo 'out-of-band access to srv712429: VPS console'
free_disk=$(df -Pm / | awk 'NR==2 {print $4}')
((free_disk >= 512)) || fail "only ${free_disk} MiB free on /; the change needs 512 MiB (nodeChanges.minFreeDiskMiB)"
[ -c /dev/net/tun ] || fail "/dev/net/tun is missing: kernel-mode tailscaled needs the tun device"
command -v iptables >/dev/null || fail "iptables is not installed: tailscaled's netfilter mode on needs it"
installed=""
if [ -x /usr/sbin/tailscaled ]; then installed=$(/usr/sbin/tailscaled --version 2>/dev/null | awk 'NR==1 {print $1}'); fi
echo "tailscale installed: ${installed:-none}, target: 1.102.3"
echo "preflight ok: $node"
