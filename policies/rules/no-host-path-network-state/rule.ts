import { hostPathRule } from "../../engine/host-path-rule";

/**
 * Host directories that hold node networking: Tailscale's state and sockets,
 * the tun device, iptables' lock, CNI and Flannel, and the host's root, /proc
 * and /sys. k3s's and the container runtime's own directories have their own
 * rule (no-host-path-node-runtime).
 */
export const NETWORK_STATE_PATHS: readonly string[] = [
    "/var/lib/tailscale*",
    "/run/tailscale*", // also /var/run/tailscale*: /var/run is folded into /run
    "/dev/net/tun",
    "/run/xtables.lock",
    "/etc/cni",
    "/var/lib/cni",
    "/opt/cni",
    "/run/flannel",
    "/",
    "/proc",
    "/sys",
];

export const noHostPathNetworkState = hostPathRule({
    id: "no-host-path-network-state",
    description:
        'Pods and PersistentVolumes must not use host directories that hold node networking (Tailscale, the tun device, iptables\' lock, CNI, Flannel, /proc, /sys, /), nor a directory above one (/var, /etc, /run, /opt, /dev), nor host paths that climb with "..".',
    remediation: (ctx) =>
        ctx.tailscale
            ? 'Keep Tailscale\'s state in memory (TS_KUBE_SECRET="") or in a Kubernetes Secret, and run it in userspace mode, which needs no /dev/net/tun.'
            : ctx.kind === "PersistentVolume"
              ? "Point the volume at a directory of its own (a data disk such as /srv/...), or let a provisioner listed under provisionedVolumes in policies/guard-config.yaml create it."
              : "Keep the pod's data in the pod (emptyDir) or a PersistentVolumeClaim, and leave the node's network files to the node; node software that must read them needs a reasoned exemption that names the path.",
    paths: NETWORK_STATE_PATHS,
    why: "the node's network lives there, and a pod that writes it can cut the node off",
    refusesClimbing: true,
    admissionMessage: "pods and PersistentVolumes must not use host paths that hold the node's network state, nor host paths with ..",
});
