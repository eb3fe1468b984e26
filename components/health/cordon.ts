/**
 * Whose cordon a node carries: a node change cordons with two annotations, so its uncordon (and a
 * person reading `kubectl get node -o yaml`) can tell its own cordon from one someone set before.
 * Pure: the patches are built here, sent by node-api.ts.
 */

/** `node-change/<kind>`: which kind of node change cordoned the node. */
export const CORDONED_BY_ANNOTATION = "oceanid.io/cordoned-by";
/** When it did, RFC 3339 in UTC to the second. */
export const CORDONED_AT_ANNOTATION = "oceanid.io/cordoned-at";
const CORDONED_BY_PREFIX = "node-change/";

/** The parts of a Node its cordon is read from. */
export interface CordonedObject {
    metadata?: { annotations?: Record<string, string> };
    spec?: { unschedulable?: boolean };
}

export type CordonState =
    | { cordoned: false }
    /** Cordoned by a node change of `kind` at `since` (null when the annotation is missing). */
    | { cordoned: true; byOceanid: true; kind: string; since: string | null }
    /** Cordoned by someone else: a node change leaves it as it is. */
    | { cordoned: true; byOceanid: false };

export function cordonState(node: CordonedObject): CordonState {
    if (node.spec?.unschedulable !== true) return { cordoned: false };
    const by = node.metadata?.annotations?.[CORDONED_BY_ANNOTATION];
    if (by === undefined) return { cordoned: true, byOceanid: false };
    const kind = by.startsWith(CORDONED_BY_PREFIX) ? by.slice(CORDONED_BY_PREFIX.length) : by;
    return { cordoned: true, byOceanid: true, kind, since: node.metadata?.annotations?.[CORDONED_AT_ANNOTATION] ?? null };
}

/**
 * One merge patch that cordons and says who did. With `resourceVersion` the API server applies it
 * only to the Node as it was read (409 Conflict otherwise), so a cordon set meanwhile is not taken over.
 */
export function cordonPatch(kind: string, at: Date, resourceVersion?: string): object {
    return {
        metadata: {
            ...(resourceVersion !== undefined ? { resourceVersion } : {}),
            annotations: { [CORDONED_BY_ANNOTATION]: `${CORDONED_BY_PREFIX}${kind}`, [CORDONED_AT_ANNOTATION]: rfc3339Seconds(at) },
        },
        spec: { unschedulable: true },
    };
}

/** The merge patch that undoes {@link cordonPatch}: schedulable again, both annotations removed. */
export function uncordonPatch(resourceVersion?: string): object {
    return {
        metadata: {
            ...(resourceVersion !== undefined ? { resourceVersion } : {}),
            annotations: { [CORDONED_BY_ANNOTATION]: null, [CORDONED_AT_ANNOTATION]: null },
        },
        spec: { unschedulable: false },
    };
}

/** `2026-03-02T10:00:00Z`: RFC 3339, UTC, whole seconds. */
export function rfc3339Seconds(at: Date): string {
    return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}
