import { celString, VOLUMES } from "../../engine/cel";
import { hostPathVolumes, normalizeHostPathCel } from "../../engine/host-path";
import { pathText, podSpecOf } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve } from "../../engine/rule";
import { UNKNOWN } from "../../engine/unknown";

/**
 * Host directories that hold node networking or cluster state. A prefix with a
 * trailing `*` matches any name that starts with it (tailscale, tailscale-worker);
 * others match the path itself and everything under it; "/" matches only itself.
 */
export const PROTECTED_HOST_PATHS: readonly string[] = [
    "/var/lib/tailscale*",
    "/run/tailscale*", // also /var/run/tailscale*: /var/run is folded into /run
    "/dev/net/tun",
    "/run/xtables.lock",
    "/etc/cni",
    "/var/lib/cni",
    "/opt/cni",
    "/run/flannel",
    "/var/lib/rancher",
    "/etc/rancher",
    "/",
    "/proc",
    "/sys",
];

export function protectedMatch(hostPath: string): string | undefined {
    return PROTECTED_HOST_PATHS.find((p) => {
        if (p === "/") return hostPath === "/";
        if (p.endsWith("*")) return hostPath.startsWith(p.slice(0, -1));
        return hostPath === p || hostPath.startsWith(`${p}/`);
    });
}

/** protectedMatch in CEL, for a normalized path expression `n`. */
function protectedPathCel(n: string): string {
    return PROTECTED_HOST_PATHS.map((p) => {
        if (p === "/") return `${n} == "/"`;
        if (p.endsWith("*")) return `${n}.startsWith(${celString(p.slice(0, -1))})`;
        return `(${n} == ${celString(p)} || ${n}.startsWith(${celString(`${p}/`)}))`;
    }).join(" || ");
}

export const noHostPathNetworkState: Rule = {
    id: "no-host-path-network-state",
    description:
        'Pods must not mount host directories that hold node networking or cluster state (Tailscale, CNI, Flannel, k3s, /proc, /sys, /), nor host paths that climb with "..".',
    remediation:
        "Keep state inside the pod (emptyDir, or a Secret for Tailscale's state) and leave the node's network files to the node; " +
        "Tailscale runs in userspace mode without /dev/net/tun.",
    enforcementLevel: "mandatory",
    check(obj) {
        const view = podSpecOf(obj);
        if (view === undefined) return [];
        const volumes = hostPathVolumes(view);
        if (volumes === UNKNOWN) return [cannotProve([...view.path, "volumes"], "holds no protected hostPath")];
        const findings: Finding[] = [];
        for (const v of volumes) {
            if (v.hostPath === UNKNOWN) {
                findings.push(cannotProve(v.path, "is outside the protected host paths"));
                continue;
            }
            const match = protectedMatch(v.hostPath);
            if (match === undefined && v.raw !== UNKNOWN && v.raw.split("/").includes("..")) {
                findings.push({
                    detail: `volume "${v.name}" mounts host path ${JSON.stringify(v.raw)} (${pathText(v.path)}), which climbs with "..": write the path without it`,
                    unknown: false,
                });
            } else if (match !== undefined) {
                findings.push({
                    detail:
                        `volume "${v.name}" mounts host path ${JSON.stringify(v.raw)} (${pathText(v.path)}), which matches the protected host path ${match}: ` +
                        "node network and cluster state survive the pod and break the node when they go wrong",
                    unknown: false,
                });
            }
        }
        return findings;
    },
    admission: {
        expression:
            `${VOLUMES}.all(v, !has(v.hostPath) || (!(${protectedPathCel(normalizeHostPathCel("v.hostPath.path"))}) && ` +
            '!v.hostPath.path.split("/").exists(s, s == "..")))',
        message: "pods must not mount host paths that hold node network or cluster state, nor host paths with ..",
    },
};
