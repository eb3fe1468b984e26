/**
 * Which of a node's pods a drain evicts, which it leaves, and which it refuses to lose; the same
 * choices as `kubectl drain --ignore-daemonsets --delete-emptydir-data` and the
 * system-upgrade-controller. Pure: drain.ts lists and evicts.
 */
import type { ApiStatus } from "./kube-api";

/** The parts of a Pod the plan reads. */
export interface PodView {
    metadata?: {
        name?: string;
        namespace?: string;
        uid?: string;
        annotations?: Record<string, string>;
        ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
    };
    status?: { phase?: string };
}

/** The kubelet runs a static pod from a file; its API copy (the mirror) carries this annotation and cannot be evicted. */
export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";

/**
 * - `mirror`: a static pod's API copy: left (the kubelet owns it).
 * - `daemonset`: controlled by a DaemonSet, which would put it back at once: left.
 * - `finished`: Succeeded or Failed: nothing runs, nothing to move.
 * - `unmanaged`: no controller would recreate it: evicting it loses it for good.
 * - `evict`: its controller recreates it elsewhere.
 */
export type PodFate = "mirror" | "daemonset" | "finished" | "unmanaged" | "evict";

export function podFate(pod: PodView): PodFate {
    if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return "mirror";
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return "finished";
    const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
    if (controller === undefined) return "unmanaged";
    return controller.kind === "DaemonSet" ? "daemonset" : "evict";
}

/** `<namespace>/<name>`, as pods are named in every message. */
export function podKey(pod: PodView): string {
    return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

export interface DrainPlan {
    /** Pods to evict, in the order listed. */
    evict: PodView[];
    /** DaemonSet and mirror pods, which stay. */
    left: PodView[];
    /** Pods without a controller: the drain refuses to start while there are any. */
    unmanaged: PodView[];
}

export function planDrain(pods: readonly PodView[]): DrainPlan {
    const plan: DrainPlan = { evict: [], left: [], unmanaged: [] };
    for (const pod of pods) {
        const fate = podFate(pod);
        if (fate === "evict") plan.evict.push(pod);
        else if (fate === "unmanaged") plan.unmanaged.push(pod);
        else if (fate !== "finished") plan.left.push(pod);
    }
    return plan;
}

/**
 * Why an eviction was refused with 429, from the Status the API server sent: its cause names the
 * PodDisruptionBudget ("The disruption budget web needs 2 healthy pods and has 2 currently").
 */
export function evictionBlockedWhy(namespace: string, status: ApiStatus | undefined): string {
    const cause = status?.details?.causes?.find((c) => typeof c.message === "string" && /^The disruption budget \S+ /.test(c.message))?.message;
    const pdb = cause === undefined ? undefined : /^The disruption budget (\S+) /.exec(cause)![1];
    if (pdb === undefined) return `a PodDisruptionBudget allows no disruption (${status?.message ?? "HTTP 429 Too Many Requests"})`;
    if (/ needs \d+ healthy pods and has \d+ currently/.test(cause!)) return `PodDisruptionBudget ${namespace}/${pdb} allows no disruption`;
    // "is still being processed by the server": its status is not computed yet.
    return `PodDisruptionBudget ${namespace}/${pdb}: ${cause!.replace(/^The disruption budget \S+ /, "").replace(/\.$/, "")}`;
}
