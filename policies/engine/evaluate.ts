import { decideExemption, type AppliedExemption } from "./exemptions";
import type { GuardConfig } from "./guard-config";
import { describeObject, objectMeta, type KubeObject } from "./kube-object";
import type { EnforcementLevel, Rule } from "./rule";

/** One rule broken by one object, as every gate reports it. */
export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
    readonly file?: string;
    readonly line?: number;
    readonly urn?: string;
    readonly message: string;
    readonly remediation: string;
    /** The violation stands because a value is not known yet, not because it is known to be bad. */
    readonly unknown: boolean;
}

export interface Evaluation {
    readonly violations: Violation[];
    readonly exemptions: AppliedExemption[];
}

export interface EvaluateOptions {
    /** Whether workload annotations may exempt (pack and CLI: yes; admission: no). */
    readonly annotations: boolean;
    readonly now: Date;
}

/** Runs every rule over every object: the single verdict all three gates share. */
export function evaluate(objects: readonly KubeObject[], rules: readonly Rule[], config: GuardConfig, opts: EvaluateOptions): Evaluation {
    const violations: Violation[] = [];
    const exemptions: AppliedExemption[] = [];
    for (const obj of objects) {
        for (const rule of rules) {
            const findings = rule.check(obj);
            if (findings.length === 0) continue;
            const decision = decideExemption(obj, rule.id, { platform: config.exemptions, annotations: opts.annotations, now: opts.now });
            if (decision.applied) {
                exemptions.push(decision.applied);
                continue;
            }
            const meta = objectMeta(obj);
            const subject = describeObject(obj);
            for (const f of findings) {
                violations.push({
                    policy: rule.id,
                    enforcementLevel: f.unknown && config.unknownValues === "advisory" ? "advisory" : rule.enforcementLevel,
                    kind: obj.kind,
                    name: meta.name,
                    ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
                    ...obj.source,
                    message: `${subject}: ${f.detail}${decision.note ? ` (${decision.note})` : ""}`,
                    remediation: rule.remediation,
                    unknown: f.unknown,
                });
            }
        }
    }
    return { violations, exemptions };
}
