// oceanid-health against the lab: real sshd hosts with pinned keys, the API
// stand-in's Nodes and Leases, the server's /ping. Healthy, one node cut off,
// and an API server that does not answer.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { ROOT } from "../helpers/stack-file";
import { LAB_NODES, writeLabStackFile } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns"]);

const VERSION = "v1.33.5+k3s1";
let lab: NodeLab;
let stackFile: string;

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: VERSION })), subnet: 4 });
    stackFile = writeLabStackFile(lab, VERSION);
});
afterAll(async () => {
    await lab?.stop();
});

function health(args: string[]) {
    const r = spawnSync(process.execPath, [join(ROOT, "components", "health", "oceanid-health.cjs"), ...args], { encoding: "utf8", cwd: lab.dir });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

suite("oceanid-health on the lab", () => {
    it("says all three nodes are healthy, in text and JSON", () => {
        const text = health(["--config-file", stackFile, "--kubeconfig", lab.kubeconfigPath]);
        expect(text.stderr).toBe("");
        expect(text.code).toBe(0);
        expect(text.stdout.trim().split("\n").at(-1)).toBe("healthy: 3 nodes");
        const json = health(["--config-file", stackFile, "--kubeconfig", lab.kubeconfigPath, "--format", "json"]);
        expect(json.code).toBe(0);
        const report = JSON.parse(json.stdout);
        expect(report.healthy).toBe(true);
        expect(report.problems).toEqual([]);
        expect(report.server.ping).toEqual({ ok: true });
        expect(report.nodes.map((n: any) => [n.name, n.ready, n.kubeletVersion, n.ssh.ok])).toEqual(LAB_NODES.map((n) => [n.name, "True", VERSION, true]));
    });

    it("names the node whose network is cut, and only that node (exit 1)", async () => {
        lab.cutNetwork("calypso");
        try {
            // The stand-in's grace period, like the node controller's, before Ready turns Unknown.
            await new Promise((r) => setTimeout(r, 7_000));
            const r = health(["--config-file", stackFile, "--kubeconfig", lab.kubeconfigPath]);
            expect(r.code).toBe(1);
            const problems = r.stdout
                .trim()
                .split("\n")
                .filter((l) => /^[a-z0-9-]+: /.test(l));
            expect(problems.every((l) => l.startsWith("calypso: "))).toBe(true);
            expect(problems).toContain("calypso: Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)");
            expect(problems.some((l) => /^calypso: ssh 10\.198\.4\.3:22 unreachable \(.+\)$/.test(l))).toBe(true);
        } finally {
            lab.restoreNetwork("calypso");
        }
    });

    it("cannot check when the API server does not answer: one line, exit 2", () => {
        const dead = join(lab.dir, "dead-kubeconfig");
        writeFileSync(dead, lab.kubeconfig.replace(lab.serverUrl, "https://127.0.0.1:1"));
        const r = health(["--config-file", stackFile, "--kubeconfig", dead]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(/^oceanid-health: cannot check: /);
        expect(r.stderr).not.toMatch(/\n\s+at /);
    });
});
