// The alert rules as the program deploys them: one PrometheusRule holding the shipped rules file's
// groups, in the configured namespace with the labels a Prometheus's ruleSelector matches.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { runProgram, type Registered } from "../helpers/mock-runtime";
import { ROOT } from "../helpers/stack-file";

let resources: Registered[];
beforeAll(async () => {
    ({ resources } = await runProgram("dev", (config) => {
        config["oceanid:monitoring"] = { alertRules: { labels: { release: "kube-prometheus-stack" } } };
    }));
});

it("deploys the rules file's groups as a PrometheusRule", () => {
    const rules = resources.filter((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
    expect(rules.map((r) => r.name)).toEqual(["oceanid-alerts"]);
    const { inputs } = rules[0];
    expect(inputs.metadata).toEqual({
        name: "oceanid-alerts",
        namespace: "monitoring",
        labels: { "app.kubernetes.io/part-of": "oceanid", release: "kube-prometheus-stack" },
    });
    expect(inputs.spec.groups).toEqual(parse(readFileSync(join(ROOT, "components", "monitoring", "oceanid.rules.yaml"), "utf8")).groups);
});
