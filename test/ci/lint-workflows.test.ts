// scripts/ci/lint-workflows: actionlint and zizmor over .github/ are clean here,
// and a scratch copy with an unpinned action or pull_request_target fails, naming the file and the finding.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { runStep } from "../helpers/ci-script";
import { describeNeeding } from "../helpers/needs";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

const env = { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH}` };
const suite = describeNeeding(["actionlint", "zizmor", "shellcheck"], env);

/** A scratch repository root holding a copy of .github/ with `edit` applied to one workflow. */
function scratchWith(workflow: string, edit: (text: string) => string): string {
    const root = mkdtempSync(join(tmpdir(), "oceanid-workflows-"));
    cpSync(join(ROOT, ".github"), join(root, ".github"), { recursive: true });
    const file = join(root, ".github", "workflows", workflow);
    const before = readFileSync(file, "utf8");
    const after = edit(before);
    // An edit that no longer matches (the workflow changed) would test the unchanged copy.
    if (after === before) throw new Error(`the edit left ${workflow} unchanged`);
    writeFileSync(file, after);
    return root;
}

suite("scripts/ci/lint-workflows", () => {
    it("finds nothing in this repository's workflows", () => {
        const r = runStep("lint-workflows", [], { env });
        expect(r.code, r.output).toBe(0);
        expect(r.stdout).toContain("No findings to report. Good job!");
    });

    it("fails on an action pinned to a tag, naming the file and zizmor's finding", () => {
        const root = scratchWith("deploy.yml", (t) => t.replace(/tailscale\/github-action@[0-9a-f]{40} # v[\d.]+/, "tailscale/github-action@v4"));
        const r = runStep("lint-workflows", [root], { env });
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(/error\[unpinned-uses\]: unpinned action reference\n\s+--> .*\/\.github\/workflows\/deploy\.yml:\d+:\d+/);
    });

    it("fails on pull_request_target, naming the file and zizmor's finding", () => {
        const root = scratchWith("pull-request.yml", (t) => t.replace("  pull_request:\n", "  pull_request_target:\n"));
        const r = runStep("lint-workflows", [root], { env });
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(
            /error\[dangerous-triggers\]: use of fundamentally insecure workflow trigger\n\s+--> .*\/\.github\/workflows\/pull-request\.yml:\d+:\d+/,
        );
    });

    it("fails on a run: block shellcheck refuses, naming the file and line (actionlint)", () => {
        const root = scratchWith("drift.yml", (t) => t.replace("run: scripts/ci/drift prod", "run: scripts/ci/drift $STACK_NAME"));
        const r = runStep("lint-workflows", [root], { env });
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(
            /\.github\/workflows\/drift\.yml:\d+:\d+: shellcheck reported issue in this script: SC2086:info:1:\d+: Double quote to prevent globbing and word splitting \[shellcheck\]/,
        );
    });

    it("names a directory without workflows and the fix (exit 2)", () => {
        const r = runStep("lint-workflows", [tmpdir()], { env });
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(`lint-workflows: ${tmpdir()}/.github/workflows does not exist: name a repository root\n`);
    });
});
