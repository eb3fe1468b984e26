/**
 * Whether one node is healthy, from what the API server and an SSH handshake show.
 * Pure: the probes (probes.ts) observe, this decides, so check mode and the gate judge alike.
 */
import type { CordonState } from "./cordon";
import type { NodeChangeCondition } from "./node-change-status";

/** A node Lease renewed longer ago than this is stale: the node controller's default grace period. */
export const DEFAULT_MAX_LEASE_AGE_SECONDS = 40;

/** What the stack config says a node should be. */
export interface NodeExpectation {
    name: string;
    /** `status.nodeInfo.kubeletVersion` must equal it (`v1.33.5+k3s1`). */
    k3sVersion: string;
    /** `hostKey` is `<type> <base64>`, as `ssh-keyscan` prints it. */
    ssh: { host: string; port: number; hostKey: string };
    /** The release the node ran before a change: a node reporting it again may have reverted. */
    previousVersion?: string;
}

/** What was seen of a node: its Node object, its Lease, and the SSH handshake. */
export interface NodeObservation {
    name: string;
    /** A Node object with this name exists. */
    registered: boolean;
    /** The Node's `Ready` condition; absent when the node reported none. */
    ready?: { status: string; reason?: string; message?: string };
    kubeletVersion?: string;
    /** `spec.renewTime` of the node's Lease in `kube-node-lease`; absent when there is no Lease. */
    leaseRenewTime?: Date;
    /** Present when the Node is unschedulable. */
    cordon?: Extract<CordonState, { cordoned: true }>;
    /** The `OceanidNodeChange` condition, when the node has one. */
    nodeChange?: NodeChangeCondition;
    ssh: { ok: true } | { ok: false; reason: string };
}

export interface EvaluationOptions {
    now: Date;
    /** Without `since`: the Lease must have been renewed within this many seconds of `now`; with it, see `leaseUnchangedSeconds`. */
    maxLeaseAgeSeconds: number;
    /**
     * When the change was made, by the node's clock: the Lease must have been renewed after it.
     * It replaces the age check, because renewTime is also written by the node's clock, so the
     * comparison holds whatever the skew between the node and the machine running the gate.
     */
    since?: Date;
    /**
     * With `since`: how long, by the clock of whoever polls, the Lease's renewTime has not changed
     * since it was first seen renewed after `since`. Over `maxLeaseAgeSeconds` it is a problem: a
     * node that renewed once after the change and then stopped is not healthy.
     */
    leaseUnchangedSeconds?: number;
}

/** Every reason the node is not healthy; empty when it is. */
export function nodeProblems(expect: NodeExpectation, obs: NodeObservation, opts: EvaluationOptions): string[] {
    const problems: string[] = [];
    if (!obs.registered) {
        problems.push("not registered in the API server");
    } else {
        const ready = readyProblem(obs.ready);
        if (ready) problems.push(ready);
        const lease = leaseProblem(obs.leaseRenewTime, opts);
        if (lease) problems.push(lease);
        if (obs.kubeletVersion !== expect.k3sVersion) {
            const reverted = obs.kubeletVersion !== undefined && obs.kubeletVersion === expect.previousVersion;
            const seen = reverted ? `${obs.kubeletVersion} (the release before the change: its revert may have run)` : (obs.kubeletVersion ?? "(not reported)");
            problems.push(`kubelet ${seen} but config says ${expect.k3sVersion}`);
        }
    }
    if (!obs.ssh.ok) problems.push(obs.ssh.reason);
    return problems;
}

function readyProblem(ready: NodeObservation["ready"]): string | undefined {
    if (ready === undefined) return "Ready is Unknown (no Ready condition reported)";
    if (ready.status === "True") return undefined;
    if (!ready.reason) return `Ready is ${ready.status}`;
    return `Ready is ${ready.status} (${ready.reason}${ready.message ? `: ${ready.message}` : ""})`;
}

function leaseProblem(renewTime: Date | undefined, opts: EvaluationOptions): string | undefined {
    if (renewTime === undefined) return "no Lease in kube-node-lease";
    if (opts.since !== undefined) {
        if (renewTime.getTime() > opts.since.getTime()) {
            const unchanged = opts.leaseUnchangedSeconds;
            if (unchanged === undefined || unchanged <= opts.maxLeaseAgeSeconds) return undefined;
            return `Lease not renewed for ${unchanged}s (limit ${opts.maxLeaseAgeSeconds}s)`;
        }
        return `Lease not renewed since the change (last renewed ${renewTime.toISOString()}, change at ${opts.since.toISOString()})`;
    }
    const age = leaseAgeSeconds(renewTime, opts.now);
    if (age <= opts.maxLeaseAgeSeconds) return undefined;
    return `Lease last renewed ${age}s ago (limit ${opts.maxLeaseAgeSeconds}s)`;
}

/** Whole seconds since the Lease was renewed; never negative (a node clock ahead of ours). */
export function leaseAgeSeconds(renewTime: Date, now: Date): number {
    return Math.max(0, Math.floor((now.getTime() - renewTime.getTime()) / 1000));
}
