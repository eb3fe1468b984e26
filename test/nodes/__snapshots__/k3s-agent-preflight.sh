set -euo pipefail
node='srv712695'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
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
read_state
if why=$(unresolved); then fail "$why"; fi
mkdir -p "$change_dir"
backup_need_kib=0
for p in '/usr/local/bin/k3s' '/etc/rancher/k3s/config.yaml' '/etc/rancher/k3s/oceanid-token' '/etc/systemd/system/k3s-agent.service' '/etc/systemd/system/k3s-agent.service.env'; do
    if [ -e "$p" ]; then backup_need_kib=$((backup_need_kib + $(du -sk -- "$p" | cut -f1))); fi
done
backup_free_kib=$(df -Pk "$change_dir" | awk 'NR==2 {print $4}')
if ((backup_free_kib < backup_need_kib + 1024)); then
    fail "only $((backup_free_kib / 1024)) MiB free under $change_dir for the backup; it needs $((backup_need_kib / 1024 + 1)) MiB: free space on that filesystem"
fi
target='v1.33.5+k3s1'
server_url='https://157.173.210.123:6443'
installed_version() {
    if [ -x /usr/local/bin/k3s ]; then /usr/local/bin/k3s --version 2>/dev/null | awk 'NR==1 {print $3}'; fi
}
version_parts() {
    [[ $1 =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)\+k3s([0-9]+)$ ]] || return 1
    echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}"
}
version_cmp() {
    local a b i
    read -r -a a <<<"$(version_parts "$1")"
    read -r -a b <<<"$(version_parts "$2")"
    for i in 0 1 2 3; do
        if ((a[i] < b[i])); then echo -1; return; fi
        if ((a[i] > b[i])); then echo 1; return; fi
    done
    echo 0
}
minor() { local p; read -r -a p <<<"$(version_parts "$1")"; echo "${p[1]}"; }
echo 'out-of-band access to srv712695: Hostinger VPS API reboot; it'\''s the styx token'
free_disk=$(df -Pm /var/lib/rancher 2>/dev/null | awk 'NR==2 {print $4}')
[ -n "$free_disk" ] || free_disk=$(df -Pm / | awk 'NR==2 {print $4}')
((free_disk >= 2048)) || fail "only ${free_disk} MiB free under /var/lib/rancher; the upgrade needs 2048 MiB (nodeChanges.minFreeDiskMiB)"
free_mem=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
((free_mem >= 256)) || fail "only ${free_mem} MiB memory available; the upgrade needs 256 MiB (nodeChanges.minAvailableMemoryMiB)"
IFS= read -r token || true
[[ $token =~ ^K10([0-9a-f]{64})::.+$ ]] \
    || fail "the k3s token is not a secure token (K10<CA hash>::...): set oceanid:k3sToken to the full token from /var/lib/rancher/k3s/server/token"
token_ca_hash=${BASH_REMATCH[1]}
cacerts=$(mktemp)
trap 'rm -f "$cacerts"' EXIT
curl -fsS --max-time 10 -k "$server_url/cacerts" -o "$cacerts" 2>/dev/null \
    || fail "the server $server_url does not answer /cacerts"
server_ca_hash=$(sha256sum "$cacerts" | awk '{print $1}')
[ "$server_ca_hash" = "$token_ca_hash" ] \
    || fail "the CA of $server_url (sha256 $server_ca_hash) is not the one the k3s token pins ($token_ca_hash): wrong server or wrong token"
pong=$(curl -fsS --max-time 10 --cacert "$cacerts" "$server_url/ping" 2>/dev/null) || pong=""
[ "$pong" = "pong" ] || fail "the server $server_url does not answer /ping"
installed=$(installed_version)
if [ -n "$installed" ]; then
    version_parts "$installed" >/dev/null || fail "k3s reports version '$installed', which is not a k3s release version"
    if [ "$(version_cmp "$installed" "$target")" = 1 ]; then
        fail "runs $installed, newer than the target $target; k3s does not support downgrades"
    fi
    if (($(minor "$target") - $(minor "$installed") > 1)); then
        fail "runs $installed, more than one minor release behind the target $target; upgrade it one minor release at a time"
    fi
fi
echo "installed: ${installed:-none}, target: $target"
echo "preflight ok: $node"
