// The alert rules with Prometheus's own tool: `promtool check rules` on the shipped file and
// `promtool test rules` on its unit tests (oceanid.rules.test.yaml), and proof that those tests
// catch a rule that pages too early.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";
import { ROOT } from "../helpers/stack-file";
import { prometheusConfig } from "../../components/monitoring/host-scripts";

const suite = describeNeeding(["promtool"]);

const RULES = join(ROOT, "components", "monitoring", "oceanid.rules.yaml");
const TESTS = join(ROOT, "test", "monitoring", "oceanid.rules.test.yaml");
const promtool = (...args: string[]) => {
    const r = spawnSync("promtool", args, { encoding: "utf8", cwd: ROOT });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
};
const dir = mkdtempSync(join(tmpdir(), "oceanid-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

suite("alert rules under promtool", () => {
    it("the shipped rules file is valid: 12 rules", () => {
        expect(promtool("check", "rules", RULES)).toEqual({ code: 0, out: `Checking ${RULES}\n  SUCCESS: 12 rules found\n\n` });
    });

    it("its unit tests pass", () => {
        const r = promtool("test", "rules", TESTS);
        expect(r.out).toContain("SUCCESS");
        expect(r.code).toBe(0);
    });

    it("the unit tests catch a rule that pages before its minute", () => {
        // The same tests against a copy whose NotReady alert waits 30 s instead of a minute.
        const rules = join(dir, "oceanid.rules.yaml");
        const original = readFileSync(RULES, "utf8");
        const early = original.replace("expr: oceanid_node_ready == 0\n        for: 1m", "expr: oceanid_node_ready == 0\n        for: 30s");
        expect(early).not.toBe(original);
        writeFileSync(rules, early);
        const tests = join(dir, "oceanid.rules.test.yaml");
        writeFileSync(tests, readFileSync(TESTS, "utf8").replace("../../components/monitoring/oceanid.rules.yaml", rules));
        const r = promtool("test", "rules", tests);
        expect(r.code).toBe(1);
        expect(r.out).toContain("alertname: OceanidNodeNotReady, time: 1m15s");
    });

    it("the monitoring host's prometheus.yml, beside the rules as the install writes them, passes promtool check config", () => {
        const host = mkdtempSync(join(dir, "host-"));
        writeFileSync(join(host, "prometheus.yml"), prometheusConfig({ intervalSeconds: 15 }));
        writeFileSync(join(host, "oceanid.rules.yaml"), readFileSync(RULES, "utf8"));
        const r = promtool("check", "config", join(host, "prometheus.yml"));
        expect(r).toEqual({
            code: 0,
            out: `Checking ${join(host, "prometheus.yml")}\n  SUCCESS: 1 rule files found\n SUCCESS: ${join(host, "prometheus.yml")} is valid prometheus config file syntax\n\nChecking ${join(host, "oceanid.rules.yaml")}\n  SUCCESS: 12 rules found\n\n`,
        });
        // Without the rules beside it, promtool refuses it: the install checks before it swaps.
        rmSync(join(host, "oceanid.rules.yaml"));
        expect(promtool("check", "config", join(host, "prometheus.yml")).code).toBe(1);
    });
});
