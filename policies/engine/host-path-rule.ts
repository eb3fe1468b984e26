// The two host-path rules (network state, node runtime) judge paths the same
// way and differ only in their list and texts: one builder for both, in every gate.
import { celString, CONTAINERS, VOLUMES } from "./cel";
import { normalizeHostPathCel, ownHostPathVolumes, persistentVolumeHostPath, type HostPathVolume } from "./host-path";
import { containersOf, pathText, podSpecsOf } from "./pod-spec";
import type { Finding, Rule } from "./rule";
import { cannotProve } from "./rule";
import { read, readList, UNKNOWN } from "./unknown";

/** A protected path and how a host path meets it: the path or under it, or above it. */
export interface ProtectedMatch {
    readonly path: string;
    readonly above: boolean;
}

/**
 * Where `hostPath` meets `list`. An entry with a trailing `*` matches any name
 * that starts with it (tailscale, tailscale-worker); others match the path
 * itself and everything under it; "/" matches only itself. A directory above
 * an entry matches too: a mount of it reaches everything below (a subPath included).
 */
export function protectedMatch(list: readonly string[], hostPath: string): ProtectedMatch | undefined {
    // The host's root holds every entry; a list that names "/" itself says so with that entry.
    if (hostPath === "/") return list.includes("/") ? { path: "/", above: false } : { path: list[0], above: true };
    for (const p of list) {
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
function protectedPathCel(list: readonly string[], n: string): string {
    return [
        `${n} == "/"`,
        ...list.map((p) => {
            if (p === "/") return `${n} == "/"`;
            const base = p.endsWith("*") ? p.slice(0, -1) : p;
            const at = p.endsWith("*") ? `${n}.startsWith(${celString(base)})` : `(${n} == ${celString(p)} || ${n}.startsWith(${celString(`${p}/`)}))`;
            return `${at} || ${celString(base)}.startsWith(${n} + "/")`;
        }),
    ].join(" || ");
}

/**
 * Every container of the object mounts volume `name` read-only (or not at
 * all). Counted over all of the object's pod specs, as admission sees them.
 */
export function mountedReadOnly(podContainers: readonly unknown[], name: string): boolean {
    return podContainers.every((c) => {
        const mounts = readList(c, "volumeMounts");
        if (mounts === UNKNOWN) return false;
        return mounts.every((m) => read(m, "name") !== name || read(m, "readOnly") === true);
    });
}

/** mountedReadOnly in CEL for volume expression `v`. */
export const mountedReadOnlyCel = (v: string): string =>
    `${CONTAINERS}.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, m.name != ${v}.name || (has(m.readOnly) && m.readOnly == true)))`;

export interface HostPathRuleSpec {
    readonly id: string;
    readonly description: string;
    readonly remediation: Rule["remediation"];
    readonly paths: readonly string[];
    /** Why a match is dangerous, after "…which matches the protected host path P: ". */
    readonly why: string;
    readonly admissionMessage: string;
    /** This rule, and only one, also refuses paths that climb with "..": CEL cannot resolve them. */
    readonly refusesClimbing: boolean;
}

export function hostPathRule(spec: HostPathRuleSpec): Rule {
    const judge = (v: HostPathVolume, subject: string, readOnly: boolean): Finding[] => {
        if (v.hostPath === UNKNOWN) return [cannotProve(v.path, "is outside the protected host paths")];
        const match = protectedMatch(spec.paths, v.hostPath);
        if (match === undefined && spec.refusesClimbing && v.raw !== UNKNOWN && v.raw.split("/").includes("..")) {
            return [{ detail: `${subject} ${JSON.stringify(v.raw)} (${pathText(v.path)}), which climbs with "..": write the path without it`, unknown: false }];
        }
        if (match === undefined) return [];
        return [
            {
                detail: `${subject} ${JSON.stringify(v.raw)} (${pathText(v.path)}), which ${match.above ? "holds" : "matches"} the protected host path ${match.path}: ${spec.why}`,
                unknown: false,
                allowance: { type: "hostPath", path: v.hostPath, readOnly },
            },
        ];
    };
    const bad = (raw: string) =>
        `(${protectedPathCel(spec.paths, normalizeHostPathCel(raw))})${spec.refusesClimbing ? ` || ${raw}.split("/").exists(s, s == "..")` : ""}`;
    return {
        id: spec.id,
        description: spec.description,
        remediation: spec.remediation,
        enforcementLevel: "mandatory",
        check(obj) {
            if (obj.kind === "PersistentVolume" && obj.apiVersion === "v1") {
                const pv = persistentVolumeHostPath(obj.body);
                return pv === undefined ? [] : judge(pv, `points at host path`, false);
            }
            const findings: Finding[] = [];
            const views = podSpecsOf(obj);
            const containers = views.flatMap((view) => {
                const cs = containersOf(view);
                return cs === UNKNOWN ? [UNKNOWN] : cs.map((c) => c.container);
            });
            for (const view of views) {
                const volumes = ownHostPathVolumes(view);
                if (volumes === UNKNOWN) {
                    findings.push(cannotProve([...view.path, "volumes"], "holds no protected hostPath"));
                    continue;
                }
                for (const v of volumes) findings.push(...judge(v, `volume "${v.name}" mounts host path`, mountedReadOnly(containers, v.name)));
            }
            return findings;
        },
        admission: {
            // Pod volumes one by one (an allowance may name a path, read-only), then a PersistentVolume's source.
            expression:
                `${VOLUMES}.filter(v, has(v.hostPath)).all(v, !(${bad("v.hostPath.path")}) || ` +
                `variables.allowed.exists(a, a[0] == ${celString(spec.id)} && a[1] == "hostPath" && a[2] == ${normalizeHostPathCel("v.hostPath.path")} && ` +
                `(a[3] != "readOnly" || ${mountedReadOnlyCel("v")}))) && ` +
                `(object.kind != "PersistentVolume" ? [] : (has(object.spec.hostPath) ? [object.spec.hostPath.path] : []) + (has(object.spec.local) ? [object.spec.local.path] : []))` +
                `.all(p, !(${bad("p")}) || variables.provisioned.exists(x, request.userInfo.username == x[0] && ${normalizeHostPathCel("p")}.startsWith(x[1] + "/") && !p.split("/").exists(s, s == "..")))`,
            message: spec.admissionMessage,
        },
    };
}
