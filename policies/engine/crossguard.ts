import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { evaluate, type Evaluation } from "./evaluate";
import type { GuardConfig } from "./guard-config";
import { describeKindName, fromPulumi } from "./kube-object";
import { proxyTarget } from "./policy-sdk";
import type { Rule } from "./rule";

/** The advisory policy that shows every applied exemption and every downgraded unknown value. */
export const NOTICES_POLICY = "guardrails-notices";

function evaluateResource(args: ResourceValidationArgs, rules: readonly Rule[], config: GuardConfig, now: () => Date): Evaluation {
    // The proxy's target, where unknowns are visible (see policy-sdk.ts): they must fail closed.
    const objects = fromPulumi(args.type, proxyTarget(args.props), args.urn);
    return evaluate(objects, rules, config, { annotations: true, now: now() });
}

/** One CrossGuard policy per rule, plus the advisory notices policy. */
export function packPolicies(rules: readonly Rule[], config: GuardConfig, now: () => Date = () => new Date()): ResourceValidationPolicy[] {
    const perRule: ResourceValidationPolicy[] = rules.map((rule) => ({
        name: rule.id,
        description: rule.description,
        enforcementLevel: rule.enforcementLevel,
        validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
            for (const v of evaluateResource(args, [rule], config, now).violations) {
                // A downgraded unknown shows up under the notices policy instead.
                if (v.enforcementLevel === rule.enforcementLevel) report(`${v.message}. Fix: ${v.remediation}`);
            }
        },
    }));
    const notices: ResourceValidationPolicy & Pick<StackValidationPolicy, "validateStack"> = {
        name: NOTICES_POLICY,
        description: "Lists every applied guardrail exemption (with its reason) and every unknown value reported as advisory.",
        enforcementLevel: "advisory",
        validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
            const { violations, exemptions } = evaluateResource(args, rules, config, now);
            for (const e of exemptions) {
                report(
                    `${describeKindName(e.kind, e.namespace, e.name)} is exempt from ${e.policy} by ${e.source === "platform" ? "the platform list" : "annotation"}${e.expires ? ` until ${e.expires}` : ""}: ${e.reason}`,
                );
            }
            for (const v of violations) {
                if (v.unknown && v.enforcementLevel === "advisory") report(`[${v.policy}] ${v.message}`);
            }
        },
        // The stack phase sees every resource: a PersistentVolume's violation is repeated here with the pods that mount it.
        validateStack: (args: StackValidationArgs, report: ReportViolation) => {
            const objects = args.resources.flatMap((r) => fromPulumi(r.type, proxyTarget(r.props), r.urn));
            const volumes = objects.filter((o) => o.kind === "PersistentVolume");
            const plain = evaluate(volumes, rules, config, { annotations: true, now: now() }).violations;
            evaluate(volumes, rules, config, { annotations: true, now: now(), related: objects }).violations.forEach((v, i) => {
                if (v.message !== plain[i].message) report(`[${v.policy}] ${v.message}`, v.urn);
            });
        },
    };
    return [...perRule, notices];
}
