#!/usr/bin/env bash
# The node lab's safety net (test/lab/node-lab.ts starts it detached, in its own
# session): once the test process that owns the lab is gone, or the lab's lifetime
# is over, it kills every process left in the lab's network namespaces, deletes the
# namespaces and the root-side veth, and removes the lab dir. NodeLab.stop() kills
# it first and does the same itself. It never runs longer than the lifetime.
#
# Usage: reaper.sh OWNER_PID LIFETIME_SECONDS LAB_DIR ROOT_VETH NETNS...
set -u

owner=$1 lifetime=$2 dir=$3 veth=$4
shift 4

end=$((SECONDS + lifetime))
while kill -0 "$owner" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
    sleep 1
done
echo "reaper: lab owner $owner gone or lifetime over; cleaning up $dir"
for ns in "$@"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null
    done
done
sleep 0.3
for ns in "$@"; do
    ip netns del "$ns" 2>/dev/null
done
ip link del "$veth" 2>/dev/null
case $dir in
    */oceanid-lab-*) rm -rf --one-file-system "$dir" ;;
esac
exit 0
