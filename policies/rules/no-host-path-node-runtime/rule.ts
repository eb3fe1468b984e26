import { hostPathRule } from "../../engine/host-path-rule";

/**
 * What runs the node's pods and k3s itself, from how k3s lays out a node
 * (docs/guardrails.md, "Node runtime paths"): a pod that can reach one of these
 * can start a host-network, privileged container no gate ever sees, or replace
 * k3s. A socket is reachable through a read-only mount too: connect() needs no
 * write access to the file system.
 */
export const NODE_RUNTIME_PATHS: readonly string[] = [
    // k3s: its containerd (/run/k3s/containerd/containerd.sock), data (agent certs, the server's
    // database and token, images, local-path storage), config and kubeconfigs, binary and scripts.
    "/run/k3s",
    "/var/lib/rancher",
    "/etc/rancher",
    "/usr/local/bin/k3s*",
    // Other container runtimes a node may run beside or instead of k3s's containerd.
    "/run/containerd",
    "/var/lib/containerd",
    "/run/crio",
    "/var/lib/containers",
    "/run/docker.sock",
    "/run/docker",
    "/var/lib/docker",
    "/run/cri-dockerd.sock",
    "/run/podman",
    // The kubelet: every pod's volumes and secrets, its pod-resources and device-plugin sockets.
    "/var/lib/kubelet",
    "/etc/kubernetes",
    // systemd and D-Bus: either starts, stops or rewrites any service on the node, k3s included.
    "/run/systemd",
    "/run/dbus",
    "/etc/systemd",
];

export const noHostPathNodeRuntime = hostPathRule({
    id: "no-host-path-node-runtime",
    description:
        "Pods and PersistentVolumes must not use the container runtime's sockets and state (k3s's containerd, containerd, CRI-O, Docker, Podman), the kubelet's directory, " +
        "k3s's binary, data and config, or systemd's and D-Bus's sockets, nor a directory above one (/run, /var/lib, /usr/local/bin).",
    remediation: (ctx) =>
        ctx.kind === "PersistentVolume"
            ? "Point the volume at a directory of its own (a data disk such as /srv/...); k3s's local-path storage is admitted only when its provisioner creates the volume (provisionedVolumes in policies/guard-config.yaml)."
            : "Talk to the cluster through the API server, not the node's runtime; node software that needs one of these (a device plugin, a log or metrics agent) needs a reasoned platform exemption that names the path (allow.hostPaths).",
    paths: NODE_RUNTIME_PATHS,
    why: "whoever reaches the container runtime, the kubelet or k3s there controls the node: it can start a host-network, privileged container no gate sees, or replace k3s",
    refusesClimbing: false,
    admissionMessage:
        "pods and PersistentVolumes must not use the container runtime's sockets or state, the kubelet's directory, k3s's files, or systemd's and D-Bus's sockets",
});
