import { evaluate } from "@marcbachmann/cel-js";
import { admissionManifests } from "../../policies/engine/admission";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { parseGuardConfig } from "../../policies/engine/guard-config";
import { NOW } from "./gates";

/** What the API server would be sent: a List's items one by one. */
function asApplied(obj: Obj): Obj[] {
    if (typeof obj.kind === "string" && obj.kind.endsWith("List") && Array.isArray(obj.items)) {
        const itemKind = obj.kind === "List" ? undefined : obj.kind.slice(0, -4);
        return obj.items.flatMap((i: Obj) => asApplied({ apiVersion: obj.apiVersion, kind: itemKind, ...i }));
    }
    return [obj];
}

/** What the API server binds besides `variables` for a create by `username`: the object, no old object, the request. */
export function createBindings(object: Obj, username = "kubernetes-admin") {
    return { object, oldObject: null, request: { operation: "CREATE", userInfo: { username } } };
}

/**
 * Gate 3: the ValidatingAdmissionPolicy's CEL, evaluated the way the API server
 * does (variables in order, then each validation), with a CEL library: the set
 * of rule IDs whose validation denies the objects.
 */
export function admissionDenials(
    objects: Obj[],
    exemptions: Obj[] = [],
    opts: { username?: string; config?: Obj } = {},
): { denied: string[]; messages: string[] } {
    const { policy } = admissionManifests("guardrails", RULES, {
        config: parseGuardConfig(
            { exemptions, ...opts.config },
            "test",
            RULES.map((r) => r.id),
        ),
        now: NOW,
    });
    const denied: string[] = [];
    const messages: string[] = [];
    for (const object of objects.flatMap(asApplied)) {
        // The objects the API server would run the policy on: its match conditions, as it evaluates them.
        const bound = createBindings(object, opts.username);
        if (!policy.spec.matchConditions.every((m) => evaluate(m.expression, bound) === true)) continue;
        const variables: Record<string, unknown> = {};
        for (const v of policy.spec.variables) variables[v.name] = evaluate(v.expression, { ...bound, variables });
        policy.spec.validations.forEach((v, i) => {
            const ok = evaluate(v.expression, { ...bound, variables });
            if (ok !== true) {
                denied.push(policy.spec.validations[i].message.split(":")[0]);
                messages.push(String(evaluate(v.messageExpression, { ...bound, variables })));
            }
        });
    }
    return { denied, messages };
}
