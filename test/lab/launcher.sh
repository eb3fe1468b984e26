#!/usr/bin/env bash
# Runs one node-lab machine (test/lab/node-lab.ts starts it, under `timeout`): systemd-nspawn
# --boot in a loop, so the machine boots again after `systemctl reboot` (nspawn exits 133) and
# after a power loss the lab made (the file NODE_DIR/poweroff, removed again at power-on). Any
# other end of the machine (poweroff, a crash) ends the launcher, and so does NODE_DIR/stop.
# Each boot and exit is recorded in NODE_DIR/boots ("boot <epoch>", "exit <status> <epoch>").
#
# Usage: launcher.sh NODE_DIR CGROUP   (nspawn's arguments: NODE_DIR/nspawn.args, one a line)
set -u
nd=$1 cg=$2

# Without a host systemd, nspawn nests its payload/ and supervisor/ cgroups under the caller's:
# a cgroup of its own per machine, in the named systemd hierarchy and in cgroup2.
for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    [ -d "$root" ] || continue
    mkdir -p "$root/$cg" && echo $$ >"$root/$cg/cgroup.procs"
done
mapfile -t args <"$nd/nspawn.args"

while :; do
    while [ -e "$nd/poweroff" ] && [ ! -e "$nd/stop" ]; do sleep 0.1; done
    [ -e "$nd/stop" ] && exit 0
    echo "boot $(date +%s.%N)" >>"$nd/boots"
    systemd-nspawn "${args[@]}" </dev/null
    rc=$?
    echo "exit $rc $(date +%s.%N)" >>"$nd/boots"
    [ -e "$nd/stop" ] && exit 0
    [ "$rc" -eq 133 ] && continue
    [ -e "$nd/poweroff" ] && continue
    exit "$rc"
done
