#!/bin/bash
# Restores srv712695's k3s state from before the change; run by oceanid-revert-k3s.service
# (its timer holds the deadline; the service also runs at every boot), or by hand with --now.
set -u
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
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
# Run by hand (--now, --resolved), it also says what it does; run by systemd, the log is enough.
if [ $# -gt 0 ]; then exec > >(tee -a "$change_dir/revert.log") 2>&1; else exec >>"$change_dir/revert.log" 2>&1; fi
exec 9>"$change_dir/lock"
if ! flock -w 600 9; then echo "$(date -u +%FT%TZ) cannot take $change_dir/lock"; exit 1; fi
read_state
# --resolved: an operator put the node right by hand after a failed revert (docs/runbooks/node-changes.md).
if [ "${1:-}" = --resolved ]; then
    case $state in
        armed | reverting | revert-failed)
            write_state reverted "resolved by hand"
            disarm
            report_state
            echo "$(date -u +%FT%TZ) the k3s change $id was resolved by hand"
            exit 0 ;;
        *) echo "$(date -u +%FT%TZ) nothing to resolve: the k3s change ${id:-(none)} is ${state:-not armed}"; exit 0 ;;
    esac
fi
case $state in
    confirmed | reverted | "")
        echo "$(date -u +%FT%TZ) nothing to revert: the k3s change ${id:-(none)} is ${state:-not armed}"
        disarm
        exit 0 ;;
    armed)
        if [ "${1:-}" != --now ] && (($(date +%s) < deadline)); then
            echo "$(date -u +%FT%TZ) the k3s change $id is not due until $(utc "$deadline")"
            exit 0
        fi ;;
    reverting) echo "$(date -u +%FT%TZ) the revert of $id was interrupted (power loss?): starting it again" ;;
    revert-failed)
        if [ "${1:-}" != --now ]; then
            echo "$(date -u +%FT%TZ) the revert of $id failed before ($reason): retry by hand with revert.sh --now"
            exit 1
        fi ;;
esac
echo "revert of k3s change $id started at $(date -u +%FT%TZ)"
write_state reverting
# Best effort and out of the way: a node the change cut off would wait out the report's timeout
# before restoring anything. Waited for before the final report, so it never lands after it.
report_state &
reporting=$!
problems=()
problem() { problems+=("$*"); echo "problem: $*"; }
restore() {
    local p=$1 b="$change_dir/backup$1" want got
    if grep -qxF -- "$p" "$change_dir/backup/absent" 2>/dev/null; then
        rm -f -- "$p" || problem "cannot remove $p"
        return
    fi
    if [ ! -e "$b" ]; then
        problem "the backup of $p is missing"
        return
    fi
    want=$(awk -v p="$p" '$2 == p {print $1}' "$change_dir/backup/manifest" 2>/dev/null)
    got=$(sha256sum <"$b" 2>/dev/null | cut -d' ' -f1)
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        problem "the backup of $p is unreadable or damaged"
        return
    fi
    mkdir -p "$(dirname "$p")"
    # Copy then rename: a running binary cannot be overwritten in place.
    if ! { cp -a "$b" "$p.oceanid-restore" && mv -f "$p.oceanid-restore" "$p"; }; then problem "cannot restore $p"; fi
}
restore '/usr/local/bin/k3s'
restore '/etc/rancher/k3s/config.yaml'
restore '/etc/rancher/k3s/oceanid-token'
restore '/etc/systemd/system/k3s-agent.service'
restore '/etc/systemd/system/k3s-agent.service.env'
# Only a complete set of files is started again: half of the old state is not the old state.
if [ ${#problems[@]} -eq 0 ]; then
    systemctl daemon-reload || true
    if [ -e /etc/systemd/system/k3s-agent.service ]; then
        systemctl restart k3s-agent || problem "k3s-agent did not start again after the restore ($(systemctl is-active k3s-agent))"
    else
        systemctl stop k3s-agent 2>/dev/null || true
    fi
fi
wait "$reporting" || true
# The final state is worth a few tries: the restarted k3s (the API, on a server) may take a moment.
report_tries="1 2 3"
if [ ${#problems[@]} -gt 0 ]; then
    # The log's last line first: whoever sees the state sees the whole log.
    echo "revert failed at $(date -u +%FT%TZ): $(IFS=';'; echo "${problems[*]}")"
    write_state revert-failed "$(IFS=';'; echo "${problems[*]}")"
    report_state
    exit 1
fi
write_state reverted
disarm
echo "revert finished at $(date -u +%FT%TZ)"
report_state
