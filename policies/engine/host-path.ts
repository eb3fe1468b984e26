import { posix } from "node:path";
import type { PodSpecView } from "./pod-spec";
import { read, readList, UNKNOWN, type Unknown } from "./unknown";

/**
 * A hostPath as the node sees it: `..`, `.` and doubled slashes resolved, no
 * trailing slash, and /var/run folded into /run (a symlink on every current distro).
 */
export function normalizeHostPath(p: string): string {
    let n = posix.normalize(p);
    if (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
    if (n === "/var/run" || n.startsWith("/var/run/")) n = n.slice("/var".length);
    return n;
}

/**
 * normalizeHostPath in CEL for a raw path expression: `.` and empty segments
 * and a trailing slash dropped, /var/run folded into /run. CEL cannot resolve
 * "..", so paths that contain it are refused by the rule instead.
 */
export function normalizeHostPathCel(raw: string): string {
    const joined = `("/" + ${raw}.split("/").filter(s, s != "" && s != ".").join("/"))`;
    return `(${joined}.startsWith("/var/run/") || ${joined} == "/var/run" ? "/run" + ${joined}.substring(8) : ${joined})`;
}

export interface HostPathVolume {
    readonly name: string;
    readonly path: ReadonlyArray<string | number>;
    /** Normalized host path, or UNKNOWN. */
    readonly hostPath: string | Unknown;
    readonly raw: string | Unknown;
}

/**
 * The hostPath volumes a pod spec's containers can mount: its own and those
 * of the pod specs it sits in (an Argo template's Workflow); UNKNOWN when a
 * volume list itself is unknown.
 */
export function hostPathVolumes(view: PodSpecView): HostPathVolume[] | Unknown {
    const own = ownHostPathVolumes(view);
    if (own === UNKNOWN || view.enclosing === undefined) return own;
    const outer = hostPathVolumes(view.enclosing);
    return outer === UNKNOWN ? UNKNOWN : [...own, ...outer];
}

/** A pod spec's own hostPath volumes; UNKNOWN when the volume list itself is unknown. */
export function ownHostPathVolumes(view: PodSpecView): HostPathVolume[] | Unknown {
    if (view.spec === UNKNOWN) return UNKNOWN;
    const volumes = readList(view.spec, "volumes");
    if (volumes === UNKNOWN) return UNKNOWN;
    const out: HostPathVolume[] = [];
    volumes.forEach((v, i) => {
        const hostPath = read(v, "hostPath");
        if (hostPath === undefined || hostPath === null) return;
        const name = read(v, "name");
        const path = [...view.path, "volumes", i, "hostPath", "path"];
        const raw = read(v, "hostPath", "path");
        out.push({
            name: typeof name === "string" ? name : `#${i}`,
            path,
            raw: raw === UNKNOWN ? UNKNOWN : String(raw),
            hostPath: raw === UNKNOWN || hostPath === UNKNOWN ? UNKNOWN : normalizeHostPath(String(raw)),
        });
    });
    return out;
}

/** The node directory a PersistentVolume's `hostPath` or `local` source points at, if it has one. */
export function persistentVolumeHostPath(body: unknown): HostPathVolume | undefined {
    for (const source of ["hostPath", "local"] as const) {
        const src = read(body, "spec", source);
        if (src === undefined || src === null) continue;
        const raw = read(body, "spec", source, "path");
        const name = read(body, "metadata", "name");
        return {
            name: typeof name === "string" ? name : "(unnamed)",
            path: ["spec", source, "path"],
            raw: raw === UNKNOWN ? UNKNOWN : String(raw),
            hostPath: raw === UNKNOWN ? UNKNOWN : normalizeHostPath(String(raw)),
        };
    }
    return undefined;
}
