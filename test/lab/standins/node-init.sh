#!/usr/bin/env bash
# PID 1 of a node-lab node (test/lab/README.md): stands in for the node's own
# init (systemd as PID 1). NodeLab runs it as
#   ip netns exec NETNS timeout -s KILL LIFETIME \
#     unshare --mount --uts --pid --fork --kill-child --mount-proc --propagation private \
#     bash node-init.sh NAME NODE_DIR LAB_DIR SBIN_DIR SSHD_CONFIG SSHD_LOG
# so the node has its own network, mount, hostname and process namespaces; when
# this process ends (or the timeout kills unshare), the kernel kills every process
# of the node.
#
# It sets the hostname, gives the node its own /run, /etc and /var (copy-on-write
# overlays on a tmpfs, so nothing is written to the host's), binds the per-node
# directories NODE_DIR/<path> over the paths the rollout touches, binds the stand-in
# bin dir read-only over /usr/local/sbin (first on sshd's default PATH) and each
# stand-in over the host's /usr/bin/<tool> where that exists, starts sshd and reaps
# orphans (bash reaps every child) until sshd exits.
set -euo pipefail

name=$1 node_dir=$2 lab_dir=$3 sbin_dir=$4 sshd_config=$5 sshd_log=$6

fail() {
    echo "node-init($name): $*" >&2
    exit 1
}

echo "$name" >/proc/sys/kernel/hostname || fail "cannot set the hostname"

mount -t tmpfs -o mode=0755,size=16m tmpfs /run || fail "cannot mount /run"
mkdir -p /run/sshd /run/lock
chmod 0755 /run/sshd

scratch=$node_dir/.overlay
mkdir -p "$scratch"
mount -t tmpfs -o mode=0700,size=256m tmpfs "$scratch" || fail "cannot mount a tmpfs on $scratch"
for d in etc var; do
    mkdir -p "$scratch/$d/upper" "$scratch/$d/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/upper,workdir=$scratch/$d/work" "/$d" ||
        fail "cannot mount an overlay on /$d (the lab needs overlayfs)"
done
echo "$name" >/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >/etc/hosts

bind() { # host_dir node_path [ro]
    mkdir -p "$1" "$2"
    if [ "${3:-}" = ro ]; then
        mount --bind -o ro "$1" "$2" || fail "cannot bind $1 read-only on $2"
    else
        mount --bind "$1" "$2" || fail "cannot bind $1 on $2"
    fi
}
for p in /usr/local/bin /etc/rancher /etc/systemd/system /var/lib/rancher /var/lib/oceanid /var/lib/standin /root; do
    bind "$node_dir$p" "$p"
done
bind "$sbin_dir" /usr/local/sbin ro
# A script that calls /usr/bin/systemctl (or /bin/...) by its full path gets the
# stand-in too, where the host has that file to bind over.
for tool in systemctl systemd-run journalctl; do
    if [ -f "/usr/bin/$tool" ] && [ -f "$sbin_dir/$tool" ]; then
        mount --bind -o ro "$sbin_dir/$tool" "/usr/bin/$tool" || fail "cannot bind the $tool stand-in on /usr/bin/$tool"
    fi
done

# The node's own /tmp. The lab dir (sshd's files, the installer, the stand-ins'
# shared files) stays visible at its own path when it lives under /tmp.
mkdir -p "$node_dir/tmp"
chmod 1777 "$node_dir/tmp"
case $lab_dir in
    /tmp/*)
        rel=${lab_dir#/tmp/}
        mkdir -p "$node_dir/tmp/$rel"
        mount --bind "$lab_dir" "$node_dir/tmp/$rel" || fail "cannot bind the lab dir into the node's /tmp"
        ;;
esac
mount --rbind "$node_dir/tmp" /tmp || fail "cannot bind the node's /tmp"

cd /
/usr/sbin/sshd -D -e -f "$sshd_config" 2>>"$sshd_log" </dev/null &
sshd_pid=$!
trap 'kill -TERM "$sshd_pid" 2>/dev/null' TERM INT
echo "node-init($name): sshd started"
status=0
wait "$sshd_pid" || status=$?
echo "node-init($name): sshd exited ($status)"
exit "$status"
