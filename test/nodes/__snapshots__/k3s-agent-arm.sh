set -euo pipefail
node='srv712695'
change_dir='/var/lib/oceanid/changes/k3s'
unit='oceanid-revert-k3s'
fail() { printf '%s FAILED node=%s reason=%s\n' 'ARM' "$node" "$*" >&2; exit 1; }
umask 077
mkdir -p "$change_dir"
rm -rf "$change_dir/backup" "$change_dir/reverted-at" "$change_dir/confirmed-at"
mkdir -p "$change_dir/backup"
: >"$change_dir/backup/absent"
backup() {
    if [ -e "$1" ]; then
        mkdir -p "$change_dir/backup$(dirname "$1")"
        cp -a "$1" "$change_dir/backup$1"
    else
        printf '%s\n' "$1" >>"$change_dir/backup/absent"
    fi
}
backup '/usr/local/bin/k3s'
backup '/etc/rancher/k3s/config.yaml'
backup '/etc/rancher/k3s/oceanid-token'
backup '/etc/systemd/system/k3s-agent.service'
backup '/etc/systemd/system/k3s-agent.service.env'
cat >"$change_dir/revert.sh" <<'OCEANID_REVERT'
#!/bin/bash
# Restores srv712695's k3s state from before the change; run by oceanid-revert-k3s.timer.
set -u
change_dir='/var/lib/oceanid/changes/k3s'
exec >>"$change_dir/revert.log" 2>&1
echo "revert started at $(date -u +%FT%TZ)"
restore() {
    if [ -e "$change_dir/backup$1" ]; then
        # Copy then rename: a running binary cannot be overwritten in place.
        cp -a "$change_dir/backup$1" "$1.oceanid-restore" && mv -f "$1.oceanid-restore" "$1"
    elif grep -qxF "$1" "$change_dir/backup/absent"; then
        rm -f "$1"
    fi
}
restore '/usr/local/bin/k3s'
restore '/etc/rancher/k3s/config.yaml'
restore '/etc/rancher/k3s/oceanid-token'
restore '/etc/systemd/system/k3s-agent.service'
restore '/etc/systemd/system/k3s-agent.service.env'
systemctl daemon-reload
if [ -e /etc/systemd/system/k3s-agent.service ]; then systemctl restart k3s-agent; else systemctl stop k3s-agent || true; fi
date +%s >"$change_dir/reverted-at"
rm -f "$change_dir/armed-at"
echo "revert finished at $(date -u +%FT%TZ)"
OCEANID_REVERT
chmod 700 "$change_dir/revert.sh"
# RemainAfterElapse=no: once fired, the timer unloads, so the next change can arm again.
systemd-run --unit="$unit" --on-active=600s --timer-property=RemainAfterElapse=no --collect --quiet \
    --description="oceanid: revert k3s on srv712695 unless confirmed" /bin/bash "$change_dir/revert.sh" \
    || fail "cannot start the revert timer $unit.timer"
date +%s >"$change_dir/armed-at"
echo "armed: $node restores its k3s state in 600s unless the change is confirmed"
