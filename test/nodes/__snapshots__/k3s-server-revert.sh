#!/bin/bash
# Restores srv712429's k3s state from before the change; run by oceanid-revert-k3s.timer.
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
restore '/etc/systemd/system/k3s.service'
restore '/etc/systemd/system/k3s.service.env'
systemctl daemon-reload
if [ -e /etc/systemd/system/k3s.service ]; then systemctl restart k3s; else systemctl stop k3s || true; fi
date +%s >"$change_dir/reverted-at"
rm -f "$change_dir/armed-at"
echo "revert finished at $(date -u +%FT%TZ)"
