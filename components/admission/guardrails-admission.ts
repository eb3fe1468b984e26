import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { admissionManifests } from "../../policies/engine/admission";
import type { GuardConfig } from "../../policies/engine/guard-config";
import type { Rule } from "../../policies/engine/rule";

export interface GuardrailsAdmissionArgs {
    /** The rules to enforce, each with its own CEL (policies/rules/). */
    rules: readonly Rule[];
    /** The platform guard config (exemption list); annotations never exempt in the API server. */
    config: GuardConfig;
    /** Namespaces the binding skips. Defaults to none; each entry shows in review. */
    excludedNamespaces?: string[];
    /** Date used to drop expired exemptions. Defaults to now. */
    now?: Date;
    provider: k8s.Provider;
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
        const m = admissionManifests(name, args.rules, { config: args.config, excludedNamespaces: args.excludedNamespaces, now: args.now ?? new Date() });
        const child = { parent: this, provider: args.provider };
        this.policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-policy`, m.policy, child);
        this.binding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-binding`, m.binding, {
            ...child,
            dependsOn: [this.policy],
        });
        this.registerOutputs({ policyName: name });
    }
}
