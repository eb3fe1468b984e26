import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";

/** The rule groups of a Prometheus rules file, as a PrometheusRule (prometheus-operator's CRD) carries them. */
export function prometheusRule(rulesFile: string, opts: { name: string; namespace: string; labels?: Record<string, string> }) {
    const parsed = parse(rulesFile) as { groups?: unknown };
    if (!Array.isArray(parsed?.groups) || parsed.groups.length === 0) throw new Error(`${opts.name}: the rules file has no groups`);
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: opts.name, namespace: opts.namespace, labels: { "app.kubernetes.io/part-of": "oceanid", ...opts.labels } },
        spec: { groups: parsed.groups },
    };
}

export interface AlertRulesArgs {
    /** components/monitoring/oceanid.rules.yaml, read by index.ts. */
    rulesFile: string;
    namespace: string;
    /** Labels the Prometheus's ruleSelector matches (e.g. kube-prometheus-stack's `release`). */
    labels?: Record<string, string>;
    provider: k8s.Provider;
}

/** The oceanid alert rules as a PrometheusRule, for a Prometheus run by prometheus-operator. */
export class AlertRules extends pulumi.ComponentResource {
    constructor(name: string, args: AlertRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:monitoring:AlertRules", name, {}, opts);
        const rule = prometheusRule(args.rulesFile, { name, namespace: args.namespace, ...(args.labels === undefined ? {} : { labels: args.labels }) });
        new k8s.apiextensions.CustomResource(name, rule, { parent: this, provider: args.provider });
        this.registerOutputs({});
    }
}
