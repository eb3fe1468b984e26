// scripts/ci/changed-areas.mjs in a scratch repository holding this repository's
// CODEOWNERS: the areas a change touches, exactly as the job summary and the step outputs get them.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runStep } from "../helpers/ci-script";
import { ROOT } from "../helpers/stack-file";

let repo: string;
const git = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: repo, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
};
/** Writes the files and commits them on the current branch. */
function commit(files: string[]): string {
    for (const f of files) {
        mkdirSync(dirname(join(repo, f)), { recursive: true });
        writeFileSync(join(repo, f), `${f} ${Math.random()}\n`);
    }
    git("add", "-A");
    git("commit", "-q", "-m", files.join(" "));
    return git("rev-parse", "HEAD");
}

let base: string;
beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), "oceanid-areas-"));
    git("init", "-q", "-b", "main");
    mkdirSync(join(repo, ".github"));
    cpSync(join(ROOT, ".github", "CODEOWNERS"), join(repo, ".github", "CODEOWNERS"));
    base = commit(["README.md", "components/network/egress-gateway.ts", "policies/guard-config.yaml"]);
});

const run = (head: string) => runStep("changed-areas.mjs", [base, head], { cwd: repo });

describe("scripts/ci/changed-areas.mjs", () => {
    it("names each area touched, its owners and files; the exemption list is its own area (the last matching line wins)", () => {
        git("checkout", "-q", "-b", "network", base);
        const head = commit([
            "components/network/tailnet-policy.ts",
            "components/nodes/node-change.ts",
            "policies/guard-config.yaml",
            "policies/rules/x/rule.ts",
            "docs/x.md",
        ]);
        const r = run(head);
        expect(r.code, r.output).toBe(0);
        expect(r.summary).toBe(
            [
                "### Review areas: a code owner must approve",
                "",
                "| area | owners | files |",
                "|---|---|---|",
                "| `/components/network/` | @oceanid/infra-reviewers | `components/network/tailnet-policy.ts` |",
                "| `/components/nodes/` | @oceanid/infra-reviewers | `components/nodes/node-change.ts` |",
                "| `/policies/guard-config.yaml` | @oceanid/infra-reviewers | `policies/guard-config.yaml` |",
                "| `/policies/` | @oceanid/infra-reviewers | `policies/rules/x/rule.ts` |",
                "",
                "",
            ].join("\n"),
        );
        expect(r.outputs).toEqual(["areas=/components/network/,/components/nodes/,/policies/guard-config.yaml,/policies/", "count=4"]);
    });

    it("says so when a change touches no area", () => {
        git("checkout", "-q", "-b", "docs", base);
        const r = run(commit(["docs/runbooks/x.md", "test/components/network/x.test.ts"]));
        expect(r.code, r.output).toBe(0);
        expect(r.summary).toBe("### Review areas\n\nThis change (2 file(s)) touches no area listed in .github/CODEOWNERS.\n\n");
        expect(r.outputs).toEqual(["areas=", "count=0"]);
    });

    it("a commit it cannot see: exit 2, naming it and the fix", () => {
        const r = run("0123456789012345678901234567890123456789");
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(
            /^changed-areas: cannot diff [0-9a-f]{40}\.\.\.0123456789012345678901234567890123456789 \(fatal: .*\): fetch both commits \(actions\/checkout with fetch-depth: 0\)\n$/,
        );
        expect(r.summary).toBe("");
    });

    it("no CODEOWNERS where it runs, or the wrong arguments: exit 2 with the fix, no stack trace", () => {
        const r = runStep("changed-areas.mjs", ["a", "b"], { cwd: tmpdir() });
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
            "changed-areas: .github/CODEOWNERS cannot be read: run it at the repository's root, where .github/CODEOWNERS lists the review areas\n",
        );
        const usage = runStep("changed-areas.mjs", ["main"], { cwd: repo });
        expect(usage.code).toBe(2);
        expect(usage.stderr).toBe('changed-areas: usage: changed-areas.mjs BASE HEAD (got: "main"): pass the pull request\'s base and head commits\n');
    });
});
