import { objectMeta, type KubeObject } from "./kube-object";

/**
 * How to exempt `obj` from `rule` at the gate that refused it, as text to
 * copy: annotations where they count (the pack, oceanid-guard), a platform
 * entry in policies/guard-config.yaml where only that counts (admission).
 */
export function exemptionRoute(rule: string, route: "annotation" | "platform", obj: KubeObject): string {
    if (route === "annotation") {
        return `If the workload is trusted with the node, exempt it with a reason: metadata.annotations: {guardrails.oceanid/exempt: ${rule}, guardrails.oceanid/reason: "<why this is safe>"}.`;
    }
    const { name, namespace } = objectMeta(obj);
    return `If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: ${obj.kind}, ${namespace === undefined ? "" : `namespace: ${namespace}, `}name: ${name}, policies: [${rule}], reason: "<why this is safe>"}].`;
}
