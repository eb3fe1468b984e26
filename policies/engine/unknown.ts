import { ENGINE_SENTINELS } from "./policy-sdk";

/**
 * A value that is not known yet: an Output that depends on a resource not yet
 * created, seen by a policy during `pulumi preview`. Rules must treat it as
 * "cannot prove safe", never as absent.
 */
export const UNKNOWN: unique symbol = Symbol("unknown");
export type Unknown = typeof UNKNOWN;

export function isUnknown(v: unknown): v is Unknown {
    return v === UNKNOWN || (typeof v === "string" && ENGINE_SENTINELS.has(v));
}

/**
 * Reads `obj[k0][k1]...`: the value, `undefined` when a step is missing, or
 * UNKNOWN when any step on the way is unknown.
 */
export function read(obj: unknown, ...path: ReadonlyArray<string | number>): unknown {
    let v = obj;
    for (const key of path) {
        if (isUnknown(v)) return UNKNOWN;
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<string | number, unknown>)[key];
    }
    return isUnknown(v) ? UNKNOWN : v;
}

/** The elements of an array field: [] when absent, UNKNOWN when the list itself is unknown. */
export function readList(obj: unknown, ...path: ReadonlyArray<string | number>): unknown[] | Unknown {
    const v = read(obj, ...path);
    if (v === UNKNOWN) return UNKNOWN;
    return Array.isArray(v) ? v : [];
}
