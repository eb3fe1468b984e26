// The bins and the policy pack run the JavaScript compiled into dist/ by `npm run build`:
// a missing or stale build is one line and exit 2, never a stack trace or yesterday's rules.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { compliantPodSpec, daemonSet, deployment } from "../fixtures/guard-cases";
import { ROOT } from "../helpers/stack-file";

/** A scratch tree with the real launchers and whatever else a test writes into it. */
function scratchTree(): string {
    const root = mkdtempSync(join(tmpdir(), "oceanid-launch-"));
    mkdirSync(join(root, "policies", "cli"), { recursive: true });
    mkdirSync(join(root, "components", "health"), { recursive: true });
    for (const f of ["compiled.cjs", "oceanid-guard.cjs"]) cpSync(join(ROOT, "policies", "cli", f), join(root, "policies", "cli", f));
    cpSync(join(ROOT, "policies", "pack.cjs"), join(root, "policies", "pack.cjs"));
    cpSync(join(ROOT, "components", "health", "oceanid-health.cjs"), join(root, "components", "health", "oceanid-health.cjs"));
    return root;
}

function write(root: string, path: string, text: string, mtime?: Date): void {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
    if (mtime) utimesSync(join(root, path), mtime, mtime);
}

const run = (script: string, args: string[] = []) => spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });

describe("a missing or stale build", () => {
    it("oceanid-guard and oceanid-health without dist/: one line, exit 2", () => {
        const root = scratchTree();
        const guard = run(join(root, "policies", "cli", "oceanid-guard.cjs"), ["x.yaml"]);
        expect([guard.status, guard.stdout, guard.stderr]).toEqual([2, "", "oceanid-guard: no compiled build in dist/: run 'npm run build'\n"]);
        const health = run(join(root, "components", "health", "oceanid-health.cjs"), ["--help"]);
        expect([health.status, health.stdout, health.stderr]).toEqual([2, "", "oceanid-health: no compiled build in dist/: run 'npm run build'\n"]);
    });

    it("a source changed after the build: names it, exit 2, the old build does not run", () => {
        const root = scratchTree();
        const built = new Date("2026-01-01T00:00:00Z");
        write(root, "dist/.built", JSON.stringify({ sources: ["policies/cli/main.ts"] }), built);
        write(root, "dist/policies/cli/main.js", 'exports.main = () => { process.stdout.write("old build ran\\n"); return 0; };\n', built);
        write(root, "policies/cli/main.ts", "// edited\n", new Date("2026-01-02T00:00:00Z"));
        const r = run(join(root, "policies", "cli", "oceanid-guard.cjs"), ["x.yaml"]);
        expect([r.status, r.stdout, r.stderr]).toEqual([2, "", "oceanid-guard: the build in dist/ is older than policies/cli/main.ts: run 'npm run build'\n"]);
    });

    it("a current build runs; a source deleted since does not stop it", () => {
        const root = scratchTree();
        write(root, "policies/cli/main.ts", "// source\n", new Date("2026-01-01T00:00:00Z"));
        write(root, "dist/policies/cli/main.js", 'exports.main = (argv) => { process.stdout.write(argv.join(" ") + "\\n"); return 1; };\n');
        write(root, "dist/.built", JSON.stringify({ sources: ["policies/cli/main.ts", "policies/cli/gone.ts"] }));
        const r = run(join(root, "policies", "cli", "oceanid-guard.cjs"), ["a.yaml", "b.yaml"]);
        expect([r.status, r.stdout, r.stderr]).toEqual([1, "a.yaml b.yaml\n", ""]);
    });

    it("the policy pack's entry refuses it with a RunError, which Pulumi prints as its message alone", () => {
        const root = scratchTree();
        const script = `try { require(${JSON.stringify(join(root, "policies", "pack.cjs"))}); } catch (e) {
            console.log(require("@pulumi/pulumi/errors").RunError.isInstance(e), e.message); }`;
        const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") } });
        expect([r.stdout, r.stderr]).toEqual(["true oceanid-guardrails: no compiled build in dist/: run 'npm run build'\n", ""]);
    });
});

describe("the pack is loaded compiled", () => {
    it("package.json's main is the entry that loads dist/, and Pulumi is not asked to compile TypeScript", () => {
        expect(JSON.parse(readFileSync(join(ROOT, "policies", "package.json"), "utf8")).main).toBe("pack.cjs");
        expect(readFileSync(join(ROOT, "policies", "PulumiPolicy.yaml"), "utf8")).toMatch(/^ {4}typescript: false$/m);
        expect(readFileSync(join(ROOT, "policies", "pack.cjs"), "utf8")).toContain('require("../dist/policies/index.js")');
    });
});

describe("the real bins, built", () => {
    beforeAll(() => {
        // What scripts/setup does; incremental, so a few seconds when little changed.
        execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "pipe" });
    }, 300_000);

    const guard = (args: string[], nodeFlags: string[] = []) =>
        spawnSync(process.execPath, [...nodeFlags, join(ROOT, "policies", "cli", "oceanid-guard.cjs"), ...args], { cwd: tmpdir(), encoding: "utf8" });

    it("find guard-config.yaml and the pack's version next to the sources, from any working directory", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        const file = join(mkdtempSync(join(tmpdir(), "oceanid-launch-")), "ds.yaml");
        writeFileSync(file, stringify(daemonSet(spec)));
        const r = guard(["--format", "sarif", file]);
        expect(r.status, r.stderr).toBe(1);
        const version = JSON.parse(readFileSync(join(ROOT, "policies", "package.json"), "utf8")).version;
        expect(JSON.parse(r.stdout).runs[0].tool.driver.version).toBe(version);
    });

    it("check a file of 3,000 documents in a 64 MB heap: one document at a time, only findings kept", () => {
        const dir = mkdtempSync(join(tmpdir(), "oceanid-launch-"));
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        const docs = [
            stringify(deployment()),
            stringify(daemonSet(spec, { name: "bad" })),
            stringify({ apiVersion: "v1", kind: "List", items: [deployment()] }),
        ];
        const text = Array.from({ length: 3000 }, (_, i) => `---\n${docs[i % 3]}`).join("");
        writeFileSync(join(dir, "big.yaml"), text);
        const r = guard(["--format", "json", join(dir, "big.yaml")], ["--max-old-space-size=64"]);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(1);
        const out = JSON.parse(r.stdout);
        expect(out.summary).toEqual({ files: 1, objects: 3000, mandatory: 1000, advisory: 0, exemptions: 0, errors: 0 });
        const lines = text.split("\n");
        const firstBad = lines.findIndex((l, i) => l === "kind: DaemonSet" && i > 0);
        expect(out.violations[0].line).toBe(firstBad);
        expect(out.violations.at(-1).line).toBe(lines.findLastIndex((l) => l === "kind: DaemonSet"));
    });
});
