// scripts/ci/health and the report it writes: the unhealthy nodes and their
// reasons, or the one line saying why the check could not run.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { toJson, type HealthReport } from "../../components/health/report";
import { runStep } from "../helpers/ci-script";

const scratch = mkdtempSync(join(tmpdir(), "oceanid-health-step-"));

describe("scripts/ci/health", () => {
    it("an API server it cannot reach: exit 2, the reason in the summary and the outputs", () => {
        const kubeconfig = join(scratch, "unreachable.kubeconfig");
        // Port 9 (discard) on loopback: nothing answers.
        writeFileSync(
            kubeconfig,
            JSON.stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:9" } }],
                contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
                "current-context": "c",
                users: [{ name: "u", user: { token: "dummy" } }],
            }),
        );
        const r = runStep("health", ["dev"], { env: { ...process.env, KUBECONFIG: kubeconfig } });
        expect(r.code).toBe(2);
        const reason = "oceanid-health: cannot check: API server cannot be asked (fetch failed)";
        expect(r.summary).toBe(`### Health check could not run\n\n${reason}\n\n`);
        expect(r.outputs).toEqual(["node=", `reason=${reason}`]);
    });

    it("no stack named: exit 2 with the usage", () => {
        const r = runStep("health", []);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe("usage: scripts/ci/health STACK [OCEANID_HEALTH_ARGS...]: name the stack whose nodes to check\n");
    });
});

describe("scripts/ci/report.mjs health", () => {
    const report = (problems: string[]): string => {
        const r: HealthReport = {
            healthy: problems.length === 0,
            nodes: [],
            server: { url: "https://100.64.0.10:6443", ping: { ok: true } },
            problems,
        };
        const file = join(scratch, `report-${problems.length}.json`);
        writeFileSync(file, toJson(r));
        return file;
    };

    it("one row per problem; the first one's node and reason as outputs", () => {
        const r = runStep("report.mjs", [
            "health",
            report(["calypso: not Ready (Unknown)", "calypso: ssh: connect ETIMEDOUT 100.64.0.30:22", "srv712429: ping: a|b"]),
        ]);
        expect(r.code, r.output).toBe(0);
        expect(r.summary).toBe(
            [
                "### Health check failed",
                "",
                "| node | reason |",
                "|---|---|",
                "| calypso | not Ready (Unknown) |",
                "| calypso | ssh: connect ETIMEDOUT 100.64.0.30:22 |",
                "| srv712429 | ping: a\\|b |",
                "",
                "",
            ].join("\n"),
        );
        expect(r.outputs).toEqual(["node=calypso", "reason=not Ready (Unknown)"]);
    });

    it("healthy: says so, empty outputs", () => {
        const r = runStep("report.mjs", ["health", report([])]);
        expect(r.summary).toBe("### Health: every node healthy\n\n");
        expect(r.outputs).toEqual(["node=", "reason="]);
    });

    it("not a health report: exit 2 naming the file's fault and the fix", () => {
        const file = join(scratch, "other.json");
        writeFileSync(file, '{"healthy": true}');
        const r = runStep("report.mjs", ["health", file]);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe("report.mjs: not an oceanid-health JSON report (no problems list): pass the output of 'oceanid-health --format json'\n");
        writeFileSync(file, "GATE FAILED");
        expect(runStep("report.mjs", ["health", file]).stderr).toBe(`report.mjs: ${file}: not JSON: pass the output of 'oceanid-health --format json'\n`);
    });
});
