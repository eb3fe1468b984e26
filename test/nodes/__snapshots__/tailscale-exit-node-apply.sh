set -euo pipefail
node='srv712429'
change_dir='/var/lib/oceanid/changes/tailscale'
unit='oceanid-revert-tailscale'
fail() { printf '%s FAILED node=%s reason=%s\n' 'APPLY' "$node" "$*" >&2; exit 1; }
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
umask 077
mkdir -p "$change_dir"
target='1.102.3'
release_url='https://pkgs.tailscale.com/stable/tailscale_1.102.3_amd64.tgz'
release_sha256='cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'
IFS= read -r auth_key || true
[ -n "$auth_key" ] || fail "no Tailscale auth key on stdin: set the stack's exitNodeAuthKey secret"
exec 9>"$change_dir/lock"
flock -w 60 9 || fail "$change_dir/lock is held by another step or a revert; wait and run again"
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

# --- arm ---
rm -rf "$change_dir/backup.new"
mkdir -p "$change_dir/backup.new"
: >"$change_dir/backup.new/absent"
: >"$change_dir/backup.new/manifest"
backup() {
    local dest="$change_dir/backup.new$1" err
    if [ ! -e "$1" ]; then
        printf '%s\n' "$1" >>"$change_dir/backup.new/absent"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    if ! err=$(cp -a "$1" "$dest" 2>&1) || ! printf '%s %s\n' "$(sha256sum <"$dest" | cut -d' ' -f1)" "$1" >>"$change_dir/backup.new/manifest" 2>/dev/null; then
        rm -rf "$change_dir/backup.new"
        case $err in
            *"No space left"*) fail "no space left under $change_dir while backing up $1: free space on that filesystem" ;;
            *) fail "cannot back up $1 into $change_dir: ${err##*: }" ;;
        esac
    fi
}
backup '/usr/sbin/tailscaled'
backup '/usr/bin/tailscale'
backup '/etc/systemd/system/tailscaled.service'
backup '/etc/default/tailscaled'
backup '/etc/sysctl.d/99-oceanid-exit-node.conf'
backup '/var/lib/tailscale/tailscaled.state'
sync "$change_dir/backup.new"
rm -rf "$change_dir/backup"
mv "$change_dir/backup.new" "$change_dir/backup"
cat >"$change_dir/revert.sh" <<'OCEANID_REVERT'
#!/bin/bash
# Restores srv712429's tailscale state from before the change; run by oceanid-revert-tailscale.service
# (its timer holds the deadline; the service also runs at every boot), or by hand with --now.
set -u
change_dir='/var/lib/oceanid/changes/tailscale'
unit='oceanid-revert-tailscale'
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
            echo "$(date -u +%FT%TZ) the tailscale change $id was resolved by hand"
            exit 0 ;;
        *) echo "$(date -u +%FT%TZ) nothing to resolve: the tailscale change ${id:-(none)} is ${state:-not armed}"; exit 0 ;;
    esac
fi
case $state in
    confirmed | reverted | "")
        echo "$(date -u +%FT%TZ) nothing to revert: the tailscale change ${id:-(none)} is ${state:-not armed}"
        disarm
        exit 0 ;;
    armed)
        if [ "${1:-}" != --now ] && (($(date +%s) < deadline)); then
            echo "$(date -u +%FT%TZ) the tailscale change $id is not due until $(utc "$deadline")"
            exit 0
        fi ;;
    reverting) echo "$(date -u +%FT%TZ) the revert of $id was interrupted (power loss?): starting it again" ;;
    revert-failed)
        if [ "${1:-}" != --now ]; then
            echo "$(date -u +%FT%TZ) the revert of $id failed before ($reason): retry by hand with revert.sh --now"
            exit 1
        fi ;;
esac
echo "revert of tailscale change $id started at $(date -u +%FT%TZ)"
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
systemctl stop oceanid-tailscale-up.timer oceanid-tailscale-up.service >/dev/null 2>&1 || true
rm -f "$change_dir/authkey"
systemctl disable --now tailscaled >/dev/null 2>&1 || true
restore '/usr/sbin/tailscaled'
restore '/usr/bin/tailscale'
restore '/etc/systemd/system/tailscaled.service'
restore '/etc/default/tailscaled'
restore '/etc/sysctl.d/99-oceanid-exit-node.conf'
restore '/var/lib/tailscale/tailscaled.state'
# Only a complete set of files is started again: half of the old state is not the old state.
if [ ${#problems[@]} -eq 0 ]; then
    before_ip_forward="" before_forwarding6="" before_enabled="" before_state_dir=""
    if [ -r "$change_dir/before" ]; then
        while IFS='=' read -r k v; do
            case $k in
                ip_forward) before_ip_forward=$v ;;
                forwarding6) before_forwarding6=$v ;;
                enabled) before_enabled=$v ;;
                state_dir) before_state_dir=$v ;;
            esac
        done <"$change_dir/before"
    fi
    systemctl daemon-reload || true
    if [ "$before_enabled" = enabled ] && [ -x /usr/sbin/tailscaled ]; then
        systemctl enable --quiet tailscaled || true
        systemctl restart tailscaled || problem "tailscaled did not start again after the restore ($(systemctl is-active tailscaled))"
    elif [ -x "$change_dir/remove-tailscale-leftovers" ]; then
        leftovers=(--force --no-state)
        [ "$before_state_dir" = absent ] && leftovers=(--force --state-dir /var/lib/tailscale)
        "$change_dir/remove-tailscale-leftovers" "${leftovers[@]}" || problem "Tailscale's leftovers could not all be removed (see $change_dir/revert.log)"
    fi
    [ -z "$before_ip_forward" ] || sysctl -q -w net.ipv4.ip_forward="$before_ip_forward" || problem "cannot set net.ipv4.ip_forward back to $before_ip_forward"
    [ -z "$before_forwarding6" ] || sysctl -q -w net.ipv6.conf.all.forwarding="$before_forwarding6" || problem "cannot set net.ipv6.conf.all.forwarding back to $before_forwarding6"
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
OCEANID_REVERT
chmod 700 "$change_dir/revert.sh"
id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
armed_at=$(date +%s)
deadline=$((armed_at + 600))
# The units first, the state last: a power loss in between leaves units the revert disarms at boot.
cat >"/etc/systemd/system/$unit.service" <<'OCEANID_UNIT'
[Unit]
Description=oceanid: revert the tailscale change on srv712429 unless it is confirmed
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/bash /var/lib/oceanid/changes/tailscale/revert.sh
TimeoutStartSec=15min

[Install]
WantedBy=multi-user.target
OCEANID_UNIT
sed "s/@DEADLINE@/$(date -u -d "@$deadline" '+%Y-%m-%d %H:%M:%S UTC')/" >"/etc/systemd/system/$unit.timer" <<'OCEANID_UNIT'
[Unit]
Description=oceanid: deadline of the tailscale change on srv712429

[Timer]
OnCalendar=@DEADLINE@
AccuracySec=1s
Unit=oceanid-revert-tailscale.service

[Install]
WantedBy=timers.target
OCEANID_UNIT
chmod 644 "/etc/systemd/system/$unit.service" "/etc/systemd/system/$unit.timer"
if ! { systemctl daemon-reload && systemctl enable --quiet "$unit.service" "$unit.timer" && systemctl restart "$unit.timer"; } >"$change_dir/arm.log" 2>&1 \
    || [ -z "$(systemctl show -p NextElapseUSecRealtime --value "$unit.timer" 2>/dev/null)" ]; then
    disarm
    fail "systemd would not start $unit.timer (see $change_dir/arm.log on the node)"
fi
write_state armed
report_state
echo "armed: change=$id reverts at $(utc "$deadline") unless confirmed"

# --- apply ---
# A change that fails is reverted now, not at the deadline.
revert_now() {
    exec 9>&-
    if bash "$change_dir/revert.sh" --now; then
        fail "$1; reverted: $node is back to its state before the change"
    fi
    fail "$1; the revert failed too: see $change_dir/revert.log on the node"
}
installed() { if [ -x /usr/sbin/tailscaled ]; then /usr/sbin/tailscaled --version 2>/dev/null | awk 'NR==1 {print $1}'; fi; }
previous=$(installed)
echo "previous: ${previous:-none}"
# What the files do not hold: the revert puts these back too.
{
    echo "ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "forwarding6=$(sysctl -n net.ipv6.conf.all.forwarding 2>/dev/null || true)"
    echo "enabled=$(systemctl is-enabled tailscaled 2>/dev/null || true)"
    echo "state_dir=$([ -e /var/lib/tailscale ] && echo present || echo absent)"
} >"$change_dir/before"
cat >"$change_dir/remove-tailscale-leftovers" <<'OCEANID_LEFTOVERS'
#!/usr/bin/env bash
# Removes what a kernel-mode Tailscale left on a node, and nothing else:
#   - a stray tailscaled process,
#   - its iptables/ip6tables chains (ts-*) and the jumps to them,
#   - its policy-routing rules (fwmark 0x80000/0xff0000, lookup 52) and route table 52,
#   - its tun interface (tailscale0),
#   - the state directories given with --state-dir.
# Every other firewall rule, routing rule and route stays, so SSH and the CNI keep
# working (flushing every table, as a blanket reset does, cuts both).
#
# Usage: remove-tailscale-leftovers [--dry-run] [--force] [--state-dir DIR]... [--no-state]
#   --state-dir DIR  a directory Tailscale kept state in (repeatable; default:
#                    /var/lib/tailscale-worker and /var/run/tailscale-worker, the
#                    2025-10-13 DaemonSet's)
#   --no-state       remove no state directory (the node's own state stays)
#   --force          also run where a tailscaled service is enabled (a node that
#                    runs Tailscale on purpose, e.g. the exit node)
#   --dry-run        print what would be done
set -euo pipefail

dry_run=false
force=false
state_dirs=()
no_state=false
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=true ;;
        --force) force=true ;;
        --no-state) no_state=true ;;
        --state-dir) [ $# -ge 2 ] || { echo "--state-dir needs a directory" >&2; exit 2; }; state_dirs+=("$2"); shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if $no_state; then
    [ ${#state_dirs[@]} -eq 0 ] || { echo "--no-state and --state-dir exclude each other" >&2; exit 2; }
elif [ ${#state_dirs[@]} -eq 0 ]; then
    state_dirs=(/var/lib/tailscale-worker /var/run/tailscale-worker)
fi

run() {
    echo "+ $*"
    $dry_run || "$@"
}

if ! $force && command -v systemctl >/dev/null && systemctl is-enabled --quiet tailscaled 2>/dev/null; then
    echo "tailscaled is enabled as a service here: this node runs Tailscale on purpose; rerun with --force to clean it anyway" >&2
    exit 3
fi

# 1. A tailscaled left running (a hostPID pod's process can outlive the pod).
#    Zombies are already dead: only live run states count.
live_tailscaled() { pgrep --runstates R,S,D,T,I -x tailscaled >/dev/null; }
if live_tailscaled; then
    run pkill -TERM -x tailscaled
    $dry_run || { sleep 1; if live_tailscaled; then run pkill -KILL -x tailscaled; fi; }
fi

# 2. Firewall: first the jumps from built-in chains into ts-* chains, then the chains.
for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
        rules=$("$ipt" -w -t "$table" -S 2>/dev/null) || continue
        while read -r rule; do
            [ -n "$rule" ] || continue
            # "-A INPUT -j ts-input" -> "-D INPUT -j ts-input"
            read -r -a spec <<<"${rule/#-A /-D }"
            run "$ipt" -w -t "$table" "${spec[@]}"
        done < <(printf '%s\n' "$rules" | grep -E '^-A [^ ]+ .*-j ts-[A-Za-z0-9_-]+' | grep -vE '^-A ts-' || true)
        for chain in $(printf '%s\n' "$rules" | sed -n 's/^-N \(ts-[A-Za-z0-9_-]*\)$/\1/p'); do
            run "$ipt" -w -t "$table" -F "$chain"
        done
        for chain in $(printf '%s\n' "$rules" | sed -n 's/^-N \(ts-[A-Za-z0-9_-]*\)$/\1/p'); do
            run "$ipt" -w -t "$table" -X "$chain"
        done
    done
done

# 3. Policy routing: Tailscale's rules carry its fwmark or look up table 52.
for family in -4 -6; do
    while read -r pref; do
        [ -n "$pref" ] && run ip "$family" rule del pref "$pref"
    done < <(ip "$family" rule show 2>/dev/null | grep -E 'fwmark 0x80000/0xff0000|lookup 52( |$)' | sed -n 's/^\([0-9]*\):.*/\1/p' | sort -u)
    if [ -n "$(ip "$family" route show table 52 2>/dev/null)" ]; then
        run ip "$family" route flush table 52
    fi
done

# 4. The tun device.
if ip link show tailscale0 >/dev/null 2>&1; then
    run ip link delete tailscale0
fi

# 5. State on the host.
for dir in ${state_dirs[@]+"${state_dirs[@]}"}; do
    if [ -e "$dir" ]; then
        run rm -rf -- "$dir"
    fi
done
echo "done: Tailscale leftovers removed; restart the k3s agent if it is not Ready within a minute (systemctl restart k3s-agent)"
OCEANID_LEFTOVERS
chmod 700 "$change_dir/remove-tailscale-leftovers"
if [ "$previous" != "$target" ]; then
    curl -fsSL --max-time 120 "$release_url" -o "$change_dir/tailscale.tgz" 2>"$change_dir/apply.log" 9>&- \
        || revert_now "cannot fetch Tailscale $target from $release_url"
    got=$(sha256sum "$change_dir/tailscale.tgz" | cut -d' ' -f1)
    [ "$got" = "$release_sha256" ] || revert_now "the Tailscale release from $release_url has sha256 $got, not the pinned $release_sha256"
    rm -rf "$change_dir/release" && mkdir -p "$change_dir/release"
    tar -xzf "$change_dir/tailscale.tgz" -C "$change_dir/release" --strip-components=1 2>>"$change_dir/apply.log" \
        || revert_now "the Tailscale release from $release_url is not a tgz in Tailscale's static layout"
    for f in tailscaled tailscale systemd/tailscaled.service; do
        [ -f "$change_dir/release/$f" ] || revert_now "the Tailscale release has no $f (Tailscale's static layout: tailscale_<version>_amd64/$f)"
    done
    # Copy then rename: a running binary cannot be overwritten in place.
    install -m 755 "$change_dir/release/tailscaled" /usr/sbin/tailscaled.oceanid-new && mv -f /usr/sbin/tailscaled.oceanid-new /usr/sbin/tailscaled
    install -m 755 "$change_dir/release/tailscale" /usr/bin/tailscale.oceanid-new && mv -f /usr/bin/tailscale.oceanid-new /usr/bin/tailscale
    install -m 644 "$change_dir/release/systemd/tailscaled.service" /etc/systemd/system/tailscaled.service
    rm -rf "$change_dir/release" "$change_dir/tailscale.tgz"
    [ "$(installed)" = "$target" ] || revert_now "tailscaled reports '$(installed)' after the install, not $target"
fi
cat >/etc/default/tailscaled <<'OCEANID_DEFAULTS'
# Written by oceanid's tailscale node change.
PORT="41641"
FLAGS=""
TS_NO_LOGS_NO_SUPPORT=true
OCEANID_DEFAULTS
cat >/etc/sysctl.d/99-oceanid-exit-node.conf <<'OCEANID_SYSCTL'
# An exit node forwards its peers' traffic (oceanid's tailscale node change).
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
OCEANID_SYSCTL
chmod 644 /etc/sysctl.d/99-oceanid-exit-node.conf
sysctl -q -p /etc/sysctl.d/99-oceanid-exit-node.conf >>"$change_dir/apply.log" 2>&1 || revert_now "the kernel refused IP forwarding (/etc/sysctl.d/99-oceanid-exit-node.conf)"
systemctl daemon-reload
systemctl enable --quiet tailscaled
systemctl restart tailscaled || revert_now "tailscaled did not start ($(systemctl is-active tailscaled)); see journalctl -u tailscaled"
for _ in $(seq 50); do [ -S /run/tailscale/tailscaled.sock ] && break; sleep 0.2; done
[ -S /run/tailscale/tailscaled.sock ] || revert_now "tailscaled started but opened no socket at /run/tailscale/tailscaled.sock"
# The key goes to tailscale up as a root-only file, never as an argument; up removes it.
(umask 077 && printf '%s\n' "$auth_key" >"$change_dir/authkey")
cat >"$change_dir/up.sh" <<OCEANID_UP
#!/bin/bash
'tailscale' 'up' '--reset' '--hostname=srv712429' '--netfilter-mode=on' '--accept-routes=false' '--accept-dns=false' '--timeout=60s' '--advertise-exit-node' '--advertise-tags=tag:exit-node' --auth-key=file:$change_dir/authkey >>$change_dir/up.log 2>&1
rc=\$?
rm -f $change_dir/authkey
echo "\$(date -u +%FT%TZ) tailscale up exited \$rc" >>$change_dir/up.log
exit \$rc
OCEANID_UP
chmod 700 "$change_dir/up.sh"
systemctl stop oceanid-tailscale-up.timer oceanid-tailscale-up.service >/dev/null 2>&1 || true
systemctl reset-failed oceanid-tailscale-up.service >/dev/null 2>&1 || true
# After apply has answered: a change that cuts the node off still lets apply report, and the gate judge.
systemd-run --quiet --unit=oceanid-tailscale-up --on-active=2 --timer-property=AccuracySec=100ms /bin/bash "$change_dir/up.sh" \
    || revert_now "systemd would not schedule tailscale up"
echo "applied: $node runs tailscale $target; tailscale up --reset --hostname=srv712429 --netfilter-mode=on --accept-routes=false --accept-dns=false --timeout=60s --advertise-exit-node --advertise-tags=tag:exit-node in 2s"
echo "applied-at: $(date +%s.%N)"
