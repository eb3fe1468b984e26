import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { GuardConfig } from "../../policies/engine/guard-config";
import { guardrailCel } from "./guardrail-cel";

/** Every pod-carrying resource, in every API group it was ever served from. */
export const GUARDED_RESOURCES = [
    { apiGroups: [""], apiVersions: ["*"], resources: ["pods", "pods/ephemeralcontainers", "podtemplates", "replicationcontrollers"] },
    { apiGroups: ["apps"], apiVersions: ["*"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"] },
    { apiGroups: ["extensions"], apiVersions: ["*"], resources: ["deployments", "replicasets", "daemonsets"] },
    { apiGroups: ["batch"], apiVersions: ["*"], resources: ["jobs", "cronjobs"] },
].map((r) => ({ ...r, operations: ["CREATE", "UPDATE"] }));

export interface GuardrailsAdmissionArgs {
    /** The platform guard config (exemption list); annotations never exempt in the API server. */
    config: GuardConfig;
    /** Namespaces the binding skips. Defaults to none; each entry shows in review. */
    excludedNamespaces?: string[];
    /** Date used to drop expired exemptions. Defaults to now. */
    now?: Date;
    provider: k8s.Provider;
}

/** The ValidatingAdmissionPolicy and its binding as plain objects (tested without a cluster). */
export function admissionManifests(name: string, args: Omit<GuardrailsAdmissionArgs, "provider">) {
    const cel = guardrailCel(args.config, args.now ?? new Date());
    const excluded = args.excludedNamespaces ?? [];
    const policy = {
        metadata: { name },
        spec: {
            failurePolicy: "Fail",
            matchConstraints: { resourceRules: GUARDED_RESOURCES },
            variables: cel.variables.map((v) => ({ name: v.name, expression: v.expression })),
            validations: cel.validations.map((v) => ({ expression: v.expression, message: v.message, reason: "Forbidden" })),
        },
    };
    const binding = {
        metadata: { name: `${name}-binding` },
        spec: {
            policyName: name,
            validationActions: ["Deny", "Audit"],
            ...(excluded.length === 0
                ? {}
                : {
                      matchResources: {
                          namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: excluded }] },
                      },
                  }),
        },
    };
    return { policy, binding };
}

/**
 * The guardrails inside the API server: a `kubectl apply` of the incident's
 * manifest is refused there too, with the rule IDs in the message.
 */
export class GuardrailsAdmission extends pulumi.ComponentResource {
    readonly policy: k8s.admissionregistration.v1.ValidatingAdmissionPolicy;
    readonly binding: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding;

    constructor(name: string, args: GuardrailsAdmissionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:guardrails:Admission", name, {}, opts);
        const m = admissionManifests(name, args);
        const child = { parent: this, provider: args.provider };
        this.policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-policy`, m.policy, child);
        this.binding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-binding`, m.binding, {
            ...child,
            dependsOn: [this.policy],
        });
        this.registerOutputs({ policyName: name });
    }
}
