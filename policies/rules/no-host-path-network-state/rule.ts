import { celString, VOLUMES } from "../../engine/cel";
import { normalizeHostPathCel, ownHostPathVolumes, persistentVolumeHostPath, type HostPathVolume } from "../../engine/host-path";
import { pathText, podSpecsOf } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve } from "../../engine/rule";
import { UNKNOWN } from "../../engine/unknown";

/**
 * Host directories that hold node networking or cluster state. A prefix with a
 * trailing `*` matches any name that starts with it (tailscale, tailscale-worker);
 * others match the path itself and everything under it; "/" matches only itself.
 * A directory above one of them (/var, /var/lib, /etc, /run, /opt, /dev) is as
 * dangerous, since a mount of it reaches everything below (a subPath included).
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

/** A protected path and how a host path meets it: the path or under it, or above it. */
export interface ProtectedMatch {
    readonly path: string;
    readonly above: boolean;
}

export function protectedMatch(hostPath: string): ProtectedMatch | undefined {
    for (const p of PROTECTED_HOST_PATHS) {
        if (p === "/") {
            if (hostPath === "/") return { path: p, above: false };
            continue;
        }
        const base = p.endsWith("*") ? p.slice(0, -1) : p;
        if (p.endsWith("*") ? hostPath.startsWith(base) : hostPath === p || hostPath.startsWith(`${p}/`)) return { path: p, above: false };
        if (base.startsWith(`${hostPath}/`)) return { path: p, above: true };
    }
    return undefined;
}

/** protectedMatch in CEL, for a normalized path expression `n`. */
function protectedPathCel(n: string): string {
    return PROTECTED_HOST_PATHS.map((p) => {
        if (p === "/") return `${n} == "/"`;
        const base = p.endsWith("*") ? p.slice(0, -1) : p;
        const at = p.endsWith("*") ? `${n}.startsWith(${celString(base)})` : `(${n} == ${celString(p)} || ${n}.startsWith(${celString(`${p}/`)}))`;
        return `${at} || ${celString(base)}.startsWith(${n} + "/")`;
    }).join(" || ");
}

/** The finding for one host path (a pod's volume or a PersistentVolume's source), if it is protected or climbs. */
function judge(v: HostPathVolume, subject: string): Finding[] {
    if (v.hostPath === UNKNOWN) return [cannotProve(v.path, "is outside the protected host paths")];
    const match = protectedMatch(v.hostPath);
    if (match === undefined && v.raw !== UNKNOWN && v.raw.split("/").includes("..")) {
        return [{ detail: `${subject} ${JSON.stringify(v.raw)} (${pathText(v.path)}), which climbs with "..": write the path without it`, unknown: false }];
    }
    if (match === undefined) return [];
    return [
        {
            detail:
                `${subject} ${JSON.stringify(v.raw)} (${pathText(v.path)}), which ${match.above ? "holds" : "matches"} the protected host path ${match.path}: ` +
                "node network and cluster state survive the pod and break the node when they go wrong",
            unknown: false,
        },
    ];
}

/** A host path expression is protected or climbs, in CEL. */
const badHostPathCel = (raw: string) => `(${protectedPathCel(normalizeHostPathCel(raw))}) || ${raw}.split("/").exists(s, s == "..")`;

export const noHostPathNetworkState: Rule = {
    id: "no-host-path-network-state",
    description:
        'Pods and PersistentVolumes must not use host directories that hold node networking or cluster state (Tailscale, CNI, Flannel, k3s, /proc, /sys, /), nor a directory above one (/var, /etc, /run, /opt, /dev), nor host paths that climb with "..".',
    remediation:
        "Keep state inside the pod (emptyDir, or a Secret for Tailscale's state) and leave the node's network files to the node; " +
        "Tailscale runs in userspace mode without /dev/net/tun.",
    enforcementLevel: "mandatory",
    check(obj) {
        if (obj.kind === "PersistentVolume" && obj.apiVersion === "v1") {
            const pv = persistentVolumeHostPath(obj.body);
            return pv === undefined ? [] : judge(pv, `points at host path`);
        }
        const findings: Finding[] = [];
        for (const view of podSpecsOf(obj)) {
            const volumes = ownHostPathVolumes(view);
            if (volumes === UNKNOWN) {
                findings.push(cannotProve([...view.path, "volumes"], "holds no protected hostPath"));
                continue;
            }
            for (const v of volumes) findings.push(...judge(v, `volume "${v.name}" mounts host path`));
        }
        return findings;
    },
    admission: {
        // Every host path in one list, so the path check is written once.
        expression:
            `(${VOLUMES}.filter(v, has(v.hostPath)).map(v, v.hostPath.path) + (object.kind != "PersistentVolume" ? [] : ` +
            "(has(object.spec.hostPath) ? [object.spec.hostPath.path] : []) + (has(object.spec.local) ? [object.spec.local.path] : []))" +
            `).all(p, !(${badHostPathCel("p")}))`,
        message: "pods and PersistentVolumes must not use host paths that hold node network or cluster state, nor host paths with ..",
    },
};
