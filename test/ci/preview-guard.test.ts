// scripts/ci/preview (the pull request's preview, into the job summary) and
// scripts/ci/guard-manifests (SARIF for code scanning), on a scratch copy of the
// dev stack with the real engine.
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { runStep } from "../helpers/ci-script";
import { describeNeeding } from "../helpers/needs";
import { renderingDevWorkspace, Workspace } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

const suite = describeNeeding(["pulumi"]);
const HEAD = "<details><summary>Preview output</summary>\n\n~~~text\n";
const TAIL = "\n~~~\n\n</details>\n\n";

suite("scripts/ci/preview", () => {
    it("a clean preview: passed, the output (with the policy pack's verdict) collapsed in the summary", () => {
        const ws = new Workspace("dev");
        const r = runStep("preview", ["dev", "--config-file", ws.configFile], { env: ws.env() });
        expect(r.code, r.output).toBe(0);
        expect(r.summary.startsWith(`### pulumi preview --stack dev: passed\n\n${HEAD}`)).toBe(true);
        expect(r.summary.endsWith(TAIL)).toBe(true);
        const body = r.summary.slice(`### pulumi preview --stack dev: passed\n\n${HEAD}`.length, -TAIL.length);
        expect(body).toContain("✅ oceanid-guardrails@v0.1.0");
        expect(body).toMatch(/Resources:\s+\+ 20 to create/);
        expect(r.stdout).toContain(body.trim());
    });

    it("a failing preview: the exit code, and the reason in the summary", () => {
        const ws = new Workspace("dev");
        ws.editConfig(["oceanid:egress", "exitNode"], "srv712429");
        const r = runStep("preview", ["dev", "--config-file", ws.configFile], { env: ws.env() });
        expect(r.code).not.toBe(0);
        expect(r.summary.startsWith(`### pulumi preview --stack dev: failed (exit ${r.code})\n\n${HEAD}`)).toBe(true);
        expect(r.summary).toContain('egress.exitNode: got "srv712429"; use the Tailscale IP (100.x.y.z) of the exit node');
    });

    it("no stack: exit 2 with the usage", () => {
        const r = runStep("preview", []);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe("usage: scripts/ci/preview STACK [PULUMI_ARGS...]: name the stack to preview (CI previews prod)\n");
    });
});

suite("scripts/ci/guard-manifests", () => {
    let rendered: string;
    beforeAll(() => {
        const ws = renderingDevWorkspace();
        const up = ws.pulumi(["up", "--yes", "--skip-preview"]);
        if (up.code !== 0) throw new Error(up.output);
        rendered = join(ws.dir, "rendered");
    });
    const sarif = (file: string) => JSON.parse(readFileSync(file, "utf8"));

    it("the repository's manifests and the rendered dev stack are clean: exit 0, SARIF without results", () => {
        const out = join(mkdtempSync(join(tmpdir(), "oceanid-sarif-")), "guard.sarif");
        const r = runStep("guard-manifests", [out, rendered]);
        expect(r.code, r.output).toBe(0);
        expect(r.stdout).toBe(`guard-manifests: 0 manifest file(s) in the repository, and ${rendered}\n`);
        const log = sarif(out);
        expect(log.runs[0].tool.driver.name).toBe("oceanid-guard");
        expect(log.runs[0].results).toEqual([]);
    });

    it("the incident's DaemonSet among the rendered files: exit 1, the violation in the SARIF", () => {
        const dir = mkdtempSync(join(tmpdir(), "oceanid-rendered-"));
        cpSync(rendered, dir, { recursive: true });
        cpSync(join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml"), join(dir, "incident.yaml"));
        const out = join(dir, "guard.sarif");
        const r = runStep("guard-manifests", [out, dir]);
        expect(r.code).toBe(1);
        const rules = sarif(out).runs[0].results.map((x: { ruleId: string }) => x.ruleId);
        expect(rules).toContain("daemonset-no-host-network");
    });

    it("no rendered directory: exit 2, naming it and the fix", () => {
        const r = runStep("guard-manifests", ["/tmp/x.sarif", "/nonexistent/rendered"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
            "guard-manifests: /nonexistent/rendered is missing: run 'npm run up -- --yes' first (the dev stack renders its manifests there)\n",
        );
    });
});
