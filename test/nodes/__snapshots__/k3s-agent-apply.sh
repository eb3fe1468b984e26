set -euo pipefail
node='srv712695'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
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
umask 077
mkdir -p "$change_dir"
target='v1.33.5+k3s1'
server_url='https://157.173.210.123:6443'
service='k3s-agent'
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
IFS= read -r token || true
[[ $token =~ ^K10([0-9a-f]{64})::.+$ ]] \
    || fail "the k3s token is not a secure token (K10<CA hash>::...): set oceanid:k3sToken to the full token from /var/lib/rancher/k3s/server/token"
exec 9>"$change_dir/lock"
flock -w 60 9 || fail "$change_dir/lock is held by another step or a revert; wait and run again"
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
backup '/usr/local/bin/k3s'
backup '/etc/rancher/k3s/config.yaml'
backup '/etc/rancher/k3s/oceanid-token'
backup '/etc/systemd/system/k3s-agent.service'
backup '/etc/systemd/system/k3s-agent.service.env'
sync "$change_dir/backup.new"
rm -rf "$change_dir/backup"
mv "$change_dir/backup.new" "$change_dir/backup"
cat >"$change_dir/revert.sh" <<'OCEANID_REVERT'
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
OCEANID_REVERT
chmod 700 "$change_dir/revert.sh"
id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
armed_at=$(date +%s)
deadline=$((armed_at + 600))
# The units first, the state last: a power loss in between leaves units the revert disarms at boot.
cat >"/etc/systemd/system/$unit.service" <<'OCEANID_UNIT'
[Unit]
Description=oceanid: revert the k3s change on srv712695 unless it is confirmed
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/bash /var/lib/oceanid/changes/k3s/revert.sh
TimeoutStartSec=15min

[Install]
WantedBy=multi-user.target
OCEANID_UNIT
sed "s/@DEADLINE@/$(date -u -d "@$deadline" '+%Y-%m-%d %H:%M:%S UTC')/" >"/etc/systemd/system/$unit.timer" <<'OCEANID_UNIT'
[Unit]
Description=oceanid: deadline of the k3s change on srv712695

[Timer]
OnCalendar=@DEADLINE@
AccuracySec=1s
Unit=oceanid-revert-k3s.service

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
mkdir -p /etc/rancher/k3s
previous=$(installed_version)
echo "previous: ${previous:-none}"
if [ "$previous" = "$target" ] && systemctl is-active --quiet "$service"; then
    echo "unchanged: $node already runs $target"
else
    printf '%s\n' "$token" >/etc/rancher/k3s/oceanid-token
    chmod 600 /etc/rancher/k3s/oceanid-token
    # The installer's output stays in a root-only log on the node; its lock stays with this step.
    curl -fsSL --max-time 120 'https://get.k3s.io' -o "$change_dir/install.sh" 2>"$change_dir/apply.log" 9>&- \
        || revert_now "cannot fetch the k3s installer from https://get.k3s.io"
    if ! INSTALL_K3S_VERSION="$target" INSTALL_K3S_EXEC=agent K3S_URL="$server_url" K3S_TOKEN_FILE=/etc/rancher/k3s/oceanid-token \
        sh "$change_dir/install.sh" >>"$change_dir/apply.log" 2>&1 9>&-; then
        revert_now "the k3s installer failed; its output is in $change_dir/apply.log on the node"
    fi
    now=$(installed_version)
    [ "$now" = "$target" ] || revert_now "the installer finished but k3s reports '${now:-nothing}', not $target"
    echo "applied: $node now runs $target"
fi
echo "applied-at: $(date +%s.%N)"
