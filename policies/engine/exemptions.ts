import type { PlatformExemption } from "./guard-config";
import { objectMeta, type KubeObject } from "./kube-object";

export const EXEMPT_ANNOTATION = "guardrails.oceanid/exempt";
export const REASON_ANNOTATION = "guardrails.oceanid/reason";

/** An exemption that let one object break one rule; every one of them is reported. */
export interface AppliedExemption {
    readonly policy: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
    readonly reason: string;
    readonly source: "annotation" | "platform";
    readonly expires?: string;
}

export interface ExemptionDecision {
    /** Set when the object is exempt. */
    readonly applied?: AppliedExemption;
    /** Why an exemption that was asked for does not count. */
    readonly note?: string;
}

export interface ExemptionOptions {
    /** Platform-owned list from the guard config. */
    readonly platform: readonly PlatformExemption[];
    /** Whether workload annotations may exempt (not in the API server: anyone who can apply can annotate). */
    readonly annotations: boolean;
    readonly now: Date;
}

/** Whether `obj` is exempt from `policy`, and by what. */
export function decideExemption(obj: KubeObject, policy: string, opts: ExemptionOptions): ExemptionDecision {
    const meta = objectMeta(obj);
    const base = { policy, kind: obj.kind, name: meta.name, ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }) };
    const today = opts.now.toISOString().slice(0, 10);
    let note: string | undefined;
    for (const e of opts.platform) {
        if (e.kind !== obj.kind || e.name !== meta.name || e.namespace !== meta.namespace || !e.policies.includes(policy)) continue;
        if (e.expires !== undefined && e.expires < today) {
            note = `platform exemption for ${policy} expired on ${e.expires}`;
            continue;
        }
        return { applied: { ...base, reason: e.reason.trim(), source: "platform", ...(e.expires ? { expires: e.expires } : {}) } };
    }
    const listed = (meta.annotations[EXEMPT_ANNOTATION] ?? "").split(",").map((s) => s.trim());
    if (listed.includes(policy)) {
        const reason = (meta.annotations[REASON_ANNOTATION] ?? "").trim();
        if (!opts.annotations) {
            note = `annotation ${EXEMPT_ANNOTATION} does not count here: only the platform exemption list can exempt`;
        } else if (reason === "") {
            note = `annotation ${EXEMPT_ANNOTATION} lists ${policy} but has no reason: add a non-empty ${REASON_ANNOTATION}`;
        } else {
            return { applied: { ...base, reason, source: "annotation" } };
        }
    }
    return note === undefined ? {} : { note };
}
