import type { NodeConfig } from "../config/stack-config";

/** Label that marks the node which takes node changes first. */
export const CANARY_LABEL = "oceanid.io/canary";

/**
 * Annotation the patch writes on its Node: the label keys and taints (`key:effect`) the program
 * set, as JSON. The next run reads it back to tell its own taints from everyone else's.
 */
export const OWNED_ANNOTATION = "oceanid.io/owned";

/**
 * Makes the provider apply over another field manager's ownership: after a cordon, the
 * node-lifecycle controller owns spec.taints, and a plain apply that changes it is refused.
 */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * `ignoreChanges` when the live Node already has it all: the engine keeps the state's inputs
 * for every field, so there is no diff and no apply, whatever others did to their taints
 * since the last run. All or nothing: ignoring the taints alone would let a label change
 * apply the state's old taint list, undoing others' changes since.
 */
export const UP_TO_DATE_IGNORES = ["metadata", "spec"];

/** A taint as the API server returns it. */
export interface Taint {
    key: string;
    value?: string;
    effect: string;
    /** Set for NoExecute taints by whoever added them (the node-lifecycle controller, kubectl). */
    timeAdded?: string;
}

/** The parts of a live Node the patch depends on. */
export interface LiveNode {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    taints?: readonly Taint[];
}

/** The label keys and taints the program set on a Node, as recorded in {@link OWNED_ANNOTATION}. */
export interface Owned {
    labels: string[];
    /** `key:effect`: Kubernetes allows one taint per key and effect. */
    taints: string[];
}

/** The body of a Node's `NodePatch`, plain data. */
export interface NodePatchBody {
    metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
    spec: { taints: Taint[] };
}

export interface NodePatchPlan {
    body: NodePatchBody;
    /**
     * The live Node already carries everything in the body: applying it would change nothing.
     * Always false without a live Node (render mode).
     */
    upToDate: boolean;
}

const taintId = (t: Pick<Taint, "key" | "effect">) => `${t.key}:${t.effect}`;

/** A configured taint as the API server stores it: an empty value is no value. */
function configuredTaint(t: NodeConfig["taints"][number]): Taint {
    return { key: t.key, ...(t.value === undefined || t.value === "" ? {} : { value: t.value }), effect: t.effect };
}

/** The labels the program sets on a node: its configured ones, plus the canary marker. */
export function nodeLabels(node: Pick<NodeConfig, "labels" | "canary">): Record<string, string> {
    return { ...node.labels, ...(node.canary ? { [CANARY_LABEL]: "true" } : {}) };
}

/** The record for {@link OWNED_ANNOTATION}: sorted, so the same config always writes the same text. */
export function ownedRecord(labels: Record<string, string>, taints: readonly Taint[]): string {
    const owned: Owned = { labels: Object.keys(labels).sort(), taints: taints.map(taintId).sort() };
    return JSON.stringify(owned);
}

/**
 * Reads {@link OWNED_ANNOTATION} back. Missing or unreadable (a Node patched before the
 * record existed, or edited by hand): nothing is known to be the program's, so nothing
 * is removed for having left the config, and the next apply writes the record anew.
 */
export function parseOwned(text: string | undefined): Owned {
    const none: Owned = { labels: [], taints: [] };
    if (text === undefined) return none;
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        return none;
    }
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);
    if (typeof value !== "object" || value === null) return none;
    const record = value as Record<string, unknown>;
    return { labels: strings(record.labels), taints: strings(record.taints) };
}

/**
 * The Node's whole taint list after the program's change. spec.taints is an atomic list
 * for server-side apply, so the patch must carry everyone's taints: each live taint stays
 * where it is, unless it is the program's (by key and effect): a configured one takes the
 * configured value, one the program set before and the config no longer has is dropped.
 * Configured taints the Node lacks come last, in config order.
 */
export function mergeTaints(live: readonly Taint[], ownedBefore: readonly string[], configured: readonly Taint[]): Taint[] {
    const wanted = new Map(configured.map((t) => [taintId(t), t]));
    const dropped = new Set(ownedBefore);
    const placed = new Set<string>();
    const merged: Taint[] = [];
    for (const t of live) {
        const id = taintId(t);
        const ours = wanted.get(id);
        if (ours !== undefined) {
            merged.push(ours);
            placed.add(id);
        } else if (!dropped.has(id)) {
            merged.push(t);
        }
    }
    return [...merged, ...configured.filter((t) => !placed.has(taintId(t)))];
}

const sameTaint = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect && a.value === b.value && a.timeAdded === b.timeAdded;

/**
 * The NodePatch for a node: its configured labels and taints, everyone else's taints as the
 * live Node has them, and the record of what is the program's. Without a live Node (render
 * mode) the taints are the configured ones alone.
 */
export function nodePatchPlan(node: Pick<NodeConfig, "name" | "labels" | "canary" | "taints">, live?: LiveNode): NodePatchPlan {
    const labels = nodeLabels(node);
    const configured = node.taints.map(configuredTaint);
    const record = ownedRecord(labels, configured);
    const annotations = { [PATCH_FORCE_ANNOTATION]: "true", [OWNED_ANNOTATION]: record };
    if (live === undefined) {
        return { body: { metadata: { name: node.name, labels, annotations }, spec: { taints: configured } }, upToDate: false };
    }
    const liveTaints = live.taints ?? [];
    const liveLabels = live.labels ?? {};
    const before = parseOwned(live.annotations?.[OWNED_ANNOTATION]);
    const taints = mergeTaints(liveTaints, before.taints, configured);
    const upToDate =
        taints.length === liveTaints.length &&
        taints.every((t, i) => sameTaint(t, liveTaints[i])) &&
        Object.entries(labels).every(([k, v]) => liveLabels[k] === v) &&
        // A label the program set and the config dropped is still to be removed.
        before.labels.every((k) => k in labels || !(k in liveLabels)) &&
        live.annotations?.[OWNED_ANNOTATION] === record;
    return { body: { metadata: { name: node.name, labels, annotations }, spec: { taints } }, upToDate };
}
