// Every alert the rules file ships says how bad it is, what it means and where its runbook is, and
// that runbook section exists. Pure: reads the files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../helpers/stack-file";

interface Rule {
    alert: string;
    expr: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(join(ROOT, "components", "monitoring", "oceanid.rules.yaml"), "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups;
const rules = groups.flatMap((g) => g.rules);
const runbook = readFileSync(join(ROOT, "docs", "runbooks", "monitoring.md"), "utf8");
/** GitHub's anchors for "## Heading" lines. */
const anchors = new Set(
    [...runbook.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]
            .toLowerCase()
            .replace(/[^a-z0-9 -]/g, "")
            .replace(/ /g, "-"),
    ),
);

it("every alert has a severity, a summary, a description and a runbook section that exists", () => {
    expect(rules.map((r) => r.alert)).toEqual([
        "OceanidNodeNotReady",
        "OceanidNodeLeaseStale",
        "OceanidNodeSshDown",
        "OceanidKubeletVersionMismatch",
        "OceanidNodeChangeUnresolved",
        "OceanidNodeChangeRevertFailed",
        "OceanidApiServerDown",
        "OceanidEgressGatewayDown",
        "OceanidExitNodeDown",
        "OceanidHealthExporterDown",
        "OceanidHealthProbesStale",
        "Watchdog",
    ]);
    for (const r of rules) {
        expect(["critical", "warning", "none"], r.alert).toContain(r.labels?.severity);
        expect(r.annotations?.summary, r.alert).toBeTruthy();
        expect(r.annotations?.description, r.alert).toBeTruthy();
        expect(r.annotations?.runbook_url, r.alert).toBe(`docs/runbooks/monitoring.md#${r.alert.toLowerCase()}`);
        expect(anchors.has(r.alert.toLowerCase()), `docs/runbooks/monitoring.md has no section "${r.alert}"`).toBe(true);
    }
});
