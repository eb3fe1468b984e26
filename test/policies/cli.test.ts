// oceanid-guard as a user runs it: files, directories, stdin, formats, exit codes.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { compliantPodSpec, daemonSet, deployment } from "../fixtures/guard-cases";
import { runCliArgs, writeGuardConfig } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";

const INCIDENT = join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml");

function tmpDir(): string {
    return mkdtempSync(join(tmpdir(), "oceanid-guard-cli-"));
}

const hostNetworkDs = () => {
    const spec = compliantPodSpec();
    spec.hostNetwork = true;
    return daemonSet(spec, { name: "bad" });
};

describe("oceanid-guard on the incident's manifest", () => {
    it("reports all five rules the incident broke, and exits 1", () => {
        const run = runCliArgs(["--format", "json", INCIDENT]);
        expect(run.code).toBe(1);
        const out = JSON.parse(run.stdout);
        expect([...new Set(out.violations.map((v: { policy: string }) => v.policy))].sort()).toEqual([
            "daemonset-no-host-network",
            "no-host-path-network-state",
            "no-privileged-networking",
            "tailscale-userspace-only",
            "workload-no-host-namespaces",
        ]);
        expect(out.violations[0]).toEqual({
            policy: "daemonset-no-host-network",
            enforcementLevel: "mandatory",
            kind: "DaemonSet",
            name: "tailscale-worker",
            namespace: "tailscale",
            file: INCIDENT,
            line: 5,
            message: expect.stringContaining("spec.template.spec.hostNetwork is true"),
            remediation: expect.stringContaining("pod network"),
        });
        expect(out.summary).toEqual({ files: 1, objects: 1, mandatory: 11, advisory: 0, exemptions: 0, errors: 0 });
    });
});

describe("inputs", () => {
    it("walks directories recursively, reads YAML and JSON, and exits 0 when all is compliant", () => {
        const dir = tmpDir();
        mkdirSync(join(dir, "nested"));
        writeFileSync(join(dir, "a.yaml"), stringify(deployment()));
        writeFileSync(join(dir, "nested", "b.json"), JSON.stringify(deployment(compliantPodSpec(), { name: "b" })));
        writeFileSync(join(dir, "notes.txt"), "hostNetwork: true");
        const run = runCliArgs([dir]);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("2 files, 2 objects: 0 mandatory, 0 advisory, 0 exempt, 0 unreadable");
    });

    it("gives each List item its own line", () => {
        const text = stringify({ apiVersion: "v1", kind: "List", items: [deployment(), hostNetworkDs()] });
        const run = runCliArgs(["--format", "json", "-"], text);
        const v = JSON.parse(run.stdout).violations;
        expect(v.map((x: { line: number }) => x.line)).toEqual([
            text.split("\n").findIndex(
                (l, i) =>
                    i > 3 &&
                    l.startsWith("  - apiVersion: apps/v1") &&
                    text
                        .split("\n")
                        .slice(i, i + 2)
                        .join("")
                        .includes("DaemonSet"),
            ) + 1,
        ]);
    });

    it("reports an unparsable file with its line, still reports the other files, and exits 2", () => {
        const dir = tmpDir();
        writeFileSync(join(dir, "bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n");
        writeFileSync(join(dir, "ds.yaml"), stringify(hostNetworkDs()));
        const run = runCliArgs(["--format", "json", dir]);
        expect(run.code).toBe(2);
        const out = JSON.parse(run.stdout);
        expect(out.violations.map((v: { policy: string }) => v.policy)).toEqual(["daemonset-no-host-network"]);
        expect(out.errors).toHaveLength(1);
        expect(out.errors[0].file).toBe(join(dir, "bad.yaml"));
        expect(out.errors[0].line).toBeGreaterThanOrEqual(4);
        expect(run.stderr).toContain(`oceanid-guard: ${join(dir, "bad.yaml")}:`);
        expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+/);
    });

    it("rejects a document that is not a Kubernetes object", () => {
        const run = runCliArgs(["-"], "---\n# values\nreplicas: 3\n");
        expect(run.code).toBe(2);
        expect(run.stderr).toBe("oceanid-guard: <stdin>:3: document 1 has no apiVersion/kind: not a Kubernetes manifest\n");
    });

    it("names a missing file", () => {
        const run = runCliArgs(["/nonexistent/x.yaml"]);
        expect(run.code).toBe(2);
        expect(run.stderr).toBe("oceanid-guard: /nonexistent/x.yaml: cannot read: ENOENT\n");
    });
});

describe("usage errors exit 2 with the usage text", () => {
    it.each([
        [["--format", "xml", "x.yaml"], 'oceanid-guard: --format must be one of text, json, sarif, got "xml"'],
        [[], "oceanid-guard: no PATH given"],
        [["--bogus", "x.yaml"], "oceanid-guard: Unknown option '--bogus'"],
    ])("%j", (args, first) => {
        const run = runCliArgs(args);
        expect(run.code).toBe(2);
        expect(run.stderr.split("\n")[0]).toBe(first);
        expect(run.stderr).toContain("usage: oceanid-guard");
    });

    it("a broken --config names the file and field", () => {
        const cfg = writeGuardConfig([{ kind: "DaemonSet", name: "x", policies: ["daemonset-no-host-network"], reason: "r", expires: "soon" }]);
        const run = runCliArgs(["--config", cfg, INCIDENT]);
        expect(run.code).toBe(2);
        expect(run.stderr).toBe(`oceanid-guard: ${cfg}: 1 problem:\n  - exemptions[0].expires: "soon" is not a date: use YYYY-MM-DD\n`);
    });
});

describe("output formats", () => {
    it("text groups by file and ends with a summary", () => {
        const run = runCliArgs([INCIDENT]);
        const lines = run.stdout.trim().split("\n");
        expect(lines[0]).toBe(INCIDENT);
        expect(lines[1]).toMatch(/^ {2}line 5: mandatory daemonset-no-host-network: DaemonSet tailscale\/tailscale-worker: /);
        expect(lines.at(-1)).toBe("1 file, 1 object: 11 mandatory, 0 advisory, 0 exempt, 0 unreadable");
    });

    it("SARIF 2.1.0 with rule metadata and file/line locations", () => {
        const run = runCliArgs(["--format", "sarif", INCIDENT]);
        const sarif = JSON.parse(run.stdout);
        expect(sarif.version).toBe("2.1.0");
        expect(sarif.$schema).toMatch(/sarif.*2\.1\.0/);
        const r = sarif.runs[0];
        expect(r.tool.driver.name).toBe("oceanid-guard");
        expect(r.tool.driver.rules.map((x: { id: string }) => x.id)).toContain("daemonset-no-host-network");
        expect(r.results).toHaveLength(11);
        expect(r.results[0]).toMatchObject({
            ruleId: "daemonset-no-host-network",
            level: "error",
            locations: [{ physicalLocation: { artifactLocation: { uri: INCIDENT }, region: { startLine: 5 } } }],
        });
    });
});

describe("SARIF from standard input", () => {
    it("has no file locations (there is no file to point at)", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        const run = runCliArgs(["--format", "sarif", "-"], stringify(daemonSet(spec)));
        const [result] = JSON.parse(run.stdout).runs[0].results;
        expect(result.ruleId).toBe("daemonset-no-host-network");
        expect(result.locations ?? []).toEqual([]);
    });
});

describe("the installed bin", () => {
    beforeAll(() => {
        // It runs the compiled build (dist/), as scripts/setup leaves it.
        execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "pipe" });
    }, 300_000);

    it("`npx oceanid-guard` runs from the repo root and exits 1 on the incident", () => {
        const r = spawnSync("npx", ["--no-install", "oceanid-guard", "--format", "json", "test/fixtures/incident/tailscale-daemonset.yaml"], {
            cwd: ROOT,
            encoding: "utf8",
        });
        expect(r.status).toBe(1);
        expect(JSON.parse(r.stdout).summary.mandatory).toBe(11);
    });
});

describe("inputs the fuzzer found", () => {
    it("an alias to a missing anchor is an input error, not a crash", () => {
        const run = runCliArgs(["-"], "apiVersion: *a");
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/^oceanid-guard: <stdin>:1: document 1 /);
    });
});

describe("oceanid-guard on a PersistentVolume on a protected host path", () => {
    it("names the workloads that mount it through their claims, from every file of the run", () => {
        const dir = tmpDir();
        const pv = { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "state" }, spec: { hostPath: { path: "/var/lib/rancher" } } };
        const pvc = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "apps" }, spec: { volumeName: "state" } };
        const spec = compliantPodSpec();
        spec.volumes = [{ name: "data", persistentVolumeClaim: { claimName: "data" } }];
        writeFileSync(join(dir, "a-volume.yaml"), `${stringify(pv)}---\n${stringify(pvc)}`);
        writeFileSync(join(dir, "b-app.yaml"), stringify(deployment(spec, { name: "web" })));
        const run = runCliArgs(["--format", "json", dir]);
        expect(run.code).toBe(1);
        const messages = (JSON.parse(run.stdout) as { violations: { name: string; message: string }[] }).violations.map((v) => [v.name, v.message]);
        expect(messages).toEqual([
            [
                "state",
                'PersistentVolume state: points at host path "/var/lib/rancher" (spec.hostPath.path), which matches the protected host path /var/lib/rancher: whoever reaches the container runtime, the kubelet or k3s there controls the node: it can start a host-network, privileged container no gate sees, or replace k3s; mounted by Deployment apps/web (claim apps/data)',
            ],
        ]);
    });
});
