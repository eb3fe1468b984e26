#!/usr/bin/env bash
# The node lab's safety net (test/lab/node-lab.ts starts it detached, in its own session): once
# the test process that owns the lab is gone, or the lab's lifetime is over, it stops the lab's
# machines and control plane, kills every process left in the lab's network namespaces, deletes
# the namespaces, the root-side veth and the machines' cgroups, unmounts what the lab mounted and
# removes the lab dir. NodeLab.stop() runs it with --now. It never runs longer than the lifetime.
#
# Usage: reaper.sh OWNER_PID|--now LIFETIME_SECONDS LAB_DIR ROOT_VETH NETNS...
set -u

owner=$1 lifetime=$2 dir=$3 veth=$4
shift 4
case $dir in */oceanid-lab-*) ;; *) echo "reaper: $dir is not a lab dir" >&2; exit 2 ;; esac

if [ "$owner" != --now ]; then
    end=$((SECONDS + lifetime))
    while kill -0 "$owner" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
        sleep 1
    done
    echo "reaper: lab owner $owner gone or lifetime over; cleaning up $dir"
fi

# No machine boots again.
for nd in "$dir"/nodes/*/; do [ -d "$nd" ] && : >"$nd/stop"; done
# Everything in the namespaces (the machines, and the control plane in the server's) is killed at
# once: a throwaway lab needs no graceful shutdown, which took kube-apiserver up to 5 s.
for _ in 1 2 3 4 5; do
    left=0
    for ns in "$@"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null && left=1
        done
    done
    # The launchers and nspawn run in the root namespace (they need its /sys/fs/cgroup).
    pkill -KILL -f "launcher.sh $dir/nodes/" && left=1
    pkill -KILL -f "systemd-nspawn .*--directory=$dir/nodes/" && left=1
    [ "$left" = 0 ] && break
    sleep 0.3
done
# Then the control plane's script stops its own reaper and removes its state. HOME: the lab runs
# this with a clean environment and scripts/lib.sh (set -u) needs it; without it the stop failed
# at once, and the control plane's reaper outlived the lab.
[ -d "$dir/cluster" ] && HOME=${HOME:-/root} bash "$(dirname "$0")/../../scripts/test-cluster" stop --dir "$dir/cluster" >/dev/null 2>&1
for ns in "$@"; do
    ip netns del "$ns" 2>/dev/null
done
ip link del "$veth" 2>/dev/null
# Cgroups deepest first; mounts (a node's own small disk) before the files.
for ns in "$@"; do
    for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
        [ -d "$root/$ns" ] && find "$root/$ns" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "/run/systemd/nspawn/propagate/$ns"
done
awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
done
rm -rf --one-file-system "$dir"
exit 0
