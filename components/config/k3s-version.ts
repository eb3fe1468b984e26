import * as semver from "semver";

/** A k3s release, e.g. `v1.33.4+k3s1`: the Kubernetes version plus k3s's own revision. */
export interface K3sVersion {
    readonly raw: string;
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
    /** The N in `+k3sN`: k3s rebuilds of one Kubernetes patch release. */
    readonly revision: number;
}

const K3S_VERSION = /^v(\d+\.\d+\.\d+)\+k3s(\d+)$/;

/** Parses `vX.Y.Z+k3sN`; returns undefined for anything else (release candidates included). */
export function parseK3sVersion(raw: string): K3sVersion | undefined {
    const m = K3S_VERSION.exec(raw);
    if (!m) return undefined;
    const v = semver.parse(m[1]);
    if (!v) return undefined;
    return { raw, major: v.major, minor: v.minor, patch: v.patch, revision: Number(m[2]) };
}

/**
 * Orders two k3s versions. semver ignores build metadata (`+k3s2` equals `+k3s1`),
 * so the k3s revision breaks ties after the Kubernetes version.
 */
export function compareK3sVersions(a: K3sVersion, b: K3sVersion): number {
    const byKube = semver.compare(`${a.major}.${a.minor}.${a.patch}`, `${b.major}.${b.minor}.${b.patch}`);
    return byKube !== 0 ? byKube : Math.sign(a.revision - b.revision);
}

/** How an agent's version breaks k3s's skew policy. */
export interface SkewProblem {
    /** Reads between the agent's and the server's version: "v1.33.5+k3s1 is newer than the server's ...". */
    readonly relation: string;
    readonly rule: string;
}

/**
 * Checks an agent against its server: k3s supports agents no newer than the server
 * and at most one minor release older. Returns undefined when the pair is supported.
 */
export function agentSkewProblem(agent: K3sVersion, server: K3sVersion): SkewProblem | undefined {
    if (compareK3sVersions(agent, server) > 0) {
        return { relation: "is newer than", rule: "agents must not be newer than the server" };
    }
    if (agent.major !== server.major || server.minor - agent.minor > 1) {
        return {
            relation: "is more than one minor release behind",
            rule: "agents may be at most one minor release older than the server",
        };
    }
    return undefined;
}
