import type { Allow, PlatformExemption } from "./guard-config";
import { normalizeHostPath } from "./host-path";
import { objectMeta, type KubeObject } from "./kube-object";
import { normalizeCapability, type Allowance, type Finding } from "./rule";

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
    /** What a narrow exemption allowed, e.g. `hostPath / (read-only)`. */
    readonly allowed?: string[];
}

export interface ExemptionDecision {
    /** The exemptions that covered some of the findings. */
    readonly applied: AppliedExemption[];
    /** The findings no exemption covers: they stand. */
    readonly remaining: Finding[];
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

/** Whether a narrow exemption's `allow` names exactly what the finding is about. */
export function allows(allow: Allow, a: Allowance): boolean {
    switch (a.type) {
        case "hostPath":
            return (allow.hostPaths ?? []).some((h) => normalizeHostPath(h.path) === a.path && (!h.readOnly || a.readOnly));
        case "capability":
            return (allow.capabilities ?? []).some((c) => normalizeCapability(c) === normalizeCapability(a.value));
        case "privileged":
            return allow.privileged === true;
        case "hostNamespace":
            return (allow.hostNamespaces ?? []).includes(a.value as "hostNetwork");
    }
}

export function allowanceText(a: Allowance): string {
    switch (a.type) {
        case "hostPath":
            return `hostPath ${a.path}${a.readOnly ? " (read-only)" : ""}`;
        case "capability":
            return `capability ${a.value}`;
        case "privileged":
            return "privileged";
        case "hostNamespace":
            return a.value;
    }
}

/**
 * Which of `findings` (of `policy` on `obj`) stand: a platform exemption
 * without `allow` covers them all, one with `allow` only those it names, an
 * annotation (where it counts) all of them.
 */
export function decideExemption(obj: KubeObject, policy: string, findings: readonly Finding[], opts: ExemptionOptions): ExemptionDecision {
    const meta = objectMeta(obj);
    const base = { policy, kind: obj.kind, name: meta.name, ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }) };
    const today = opts.now.toISOString().slice(0, 10);
    let note: string | undefined;
    let remaining = [...findings];
    const applied: AppliedExemption[] = [];
    for (const e of opts.platform) {
        if (remaining.length === 0) break;
        if (e.kind !== obj.kind || e.name !== meta.name || e.namespace !== meta.namespace || !e.policies.includes(policy)) continue;
        if (e.expires !== undefined && e.expires < today) {
            note = `platform exemption for ${policy} expired on ${e.expires}`;
            continue;
        }
        const covered = e.allow === undefined ? remaining : remaining.filter((f) => f.allowance !== undefined && allows(e.allow!, f.allowance));
        if (covered.length === 0) continue;
        remaining = remaining.filter((f) => !covered.includes(f));
        applied.push({
            ...base,
            reason: e.reason.trim(),
            source: "platform",
            ...(e.expires ? { expires: e.expires } : {}),
            ...(e.allow === undefined ? {} : { allowed: [...new Set(covered.map((f) => allowanceText(f.allowance!)))] }),
        });
    }
    if (remaining.length === 0) return { applied, remaining };
    if (applied.length > 0 && note === undefined) note = `a narrow platform exemption allows ${applied.flatMap((a) => a.allowed ?? []).join(", ")}, not this`;
    const listed = (meta.annotations[EXEMPT_ANNOTATION] ?? "").split(",").map((s) => s.trim());
    if (listed.includes(policy)) {
        const reason = (meta.annotations[REASON_ANNOTATION] ?? "").trim();
        if (!opts.annotations) {
            note = `annotation ${EXEMPT_ANNOTATION} does not count here: only the platform exemption list can exempt`;
        } else if (reason === "") {
            note = `annotation ${EXEMPT_ANNOTATION} lists ${policy} but has no reason: add a non-empty ${REASON_ANNOTATION}`;
        } else {
            return { applied: [...applied, { ...base, reason, source: "annotation" }], remaining: [] };
        }
    }
    return { applied, remaining, ...(note === undefined ? {} : { note }) };
}
