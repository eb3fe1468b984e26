// oceanid-health (the built command, as `npx oceanid-health` runs it) against the node lab: real
// sshd with pinned host keys on real-systemd machines, the real API server behind the k3s
// supervisor, the server's /ping. Healthy; one node cut off, named with the reason the real
// node-lifecycle controller gives; the API server's front door down (exit 2).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { ROOT } from "../helpers/stack-file";
import { LAB_NODES, writeLabStackFile } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

const VERSION = "v1.33.5+k3s1";
const SUBNET = 4;
const esc = (s: string) => s.replace(/[.+]/g, "\\$&");
let lab: NodeLab;
let stackFile: string;

beforeAll(async () => {
    // The launcher runs the compiled build, which refuses to be older than the sources.
    const b = spawnSync("bash", ["scripts/with-tools", "node", "scripts/build.mjs"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`npm run build failed: ${b.stdout}${b.stderr}`);
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: VERSION })), subnet: SUBNET });
    stackFile = writeLabStackFile(lab, VERSION);
});
afterAll(async () => {
    await lab?.stop();
});

/** The built command in a process of its own, the kubeconfig on stdin. */
function health(args: string[], kubeconfig = lab.kubeconfig) {
    const r = spawnSync(
        process.execPath,
        [join(ROOT, "components", "health", "oceanid-health.cjs"), "--config-file", stackFile, "--kubeconfig", "-", ...args],
        {
            input: kubeconfig,
            encoding: "utf8",
            timeout: 60_000,
            cwd: lab.dir,
            env: { PATH: process.env.PATH, HOME: lab.dir },
        },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function readyOf(name: string) {
    const r = await lab.api(`/api/v1/nodes/${name}`);
    return (JSON.parse(r.body) as V1Node).status?.conditions?.find((c) => c.type === "Ready");
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    for (const t0 = Date.now(); ;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

suite("oceanid-health on the lab", () => {
    it("says all three nodes are healthy, in text and JSON", () => {
        const text = health([]);
        expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 0, stderr: "" });
        const lines = text.stdout.split("\n");
        expect(lines[0]).toMatch(/^NODE\s+READY\s+LEASE\s+KUBELET\s+SSH$/);
        expect(lines.slice(1, 4).map((l) => l.replace(/ +/g, " ").replace(/ \d+s /, " <age> "))).toEqual(
            LAB_NODES.map((n) => `${n.name} True <age> ${VERSION} ok`),
        );
        expect(lines.slice(4)).toEqual([`server ping https://${lab.node("srv712429").address}:6443: pong`, "healthy: 3 nodes", ""]);

        const json = health(["--format", "json"]);
        expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: "" });
        const report = JSON.parse(json.stdout);
        expect(report).toMatchObject({ healthy: true, problems: [], server: { url: `https://${lab.node("srv712429").address}:6443`, ping: { ok: true } } });
        expect(report.nodes).toEqual(
            LAB_NODES.map((n) => ({
                name: n.name,
                ready: "True",
                leaseAgeSeconds: expect.any(Number),
                kubeletVersion: VERSION,
                expectedVersion: VERSION,
                ssh: { ok: true },
                nodeChange: null,
                cordoned: null,
                problems: [],
            })),
        );
        // The lab's kubelets renew their Leases every second.
        for (const n of report.nodes) expect(n.leaseAgeSeconds, n.name).toBeLessThanOrEqual(3);
    });

    it("names the node whose network is cut, and only that node, with the controller's reason (exit 1)", async () => {
        lab.cutNetwork("calypso");
        try {
            // The real node-lifecycle controller marks it after the lab's grace period (5 s).
            await until("calypso Ready=Unknown", 15_000, async () => ((await readyOf("calypso"))?.status === "Unknown" ? true : undefined));
            const r = health([]);
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "" });
            const lines = r.stdout.split("\n");
            expect(lines.find((l) => l.startsWith("calypso "))).toMatch(new RegExp(`^calypso\\s+Unknown\\s+\\d+s\\s+${esc(VERSION)}\\s+failed$`));
            expect(lines.slice(lines.findIndex((l) => l.startsWith("server ping ")))).toEqual([
                `server ping https://${lab.node("srv712429").address}:6443: pong`,
                "calypso: Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)",
                `calypso: ssh ${lab.node("calypso").address}:22 unreachable (timed out after 5s)`,
                "",
            ]);
            expect(lines.filter((l) => new RegExp(`^(srv712429|srv712695) `).test(l)).map((l) => l.replace(/ +/g, " ").replace(/ \d+s /, " <age> "))).toEqual([
                `srv712429 True <age> ${VERSION} ok`,
                `srv712695 True <age> ${VERSION} ok`,
            ]);
        } finally {
            lab.restoreNetwork("calypso");
        }
        await until("calypso Ready again", 15_000, async () => ((await readyOf("calypso"))?.status === "True" ? true : undefined));
        expect(health([]).code).toBe(0);
    });

    it("cannot check when the API server does not answer (the server's k3s, its front door, stopped): one line, exit 2", async () => {
        const stop = await lab.inNodeAsync("srv712429", "systemctl stop k3s");
        expect(stop.code, stop.out).toBe(0);
        try {
            const r = health([]);
            expect(r).toEqual({ code: 2, stdout: "", stderr: "oceanid-health: cannot check: API server unreachable (connect ECONNREFUSED)\n" });
        } finally {
            await lab.inNodeAsync("srv712429", "systemctl start k3s");
        }
        // Not a matter of the address: the same kubeconfig works again once k3s runs.
        await until("the API server through the supervisor", 15_000, async () => ((await lab.api("/readyz")).status === 200 ? true : undefined));
        expect(health(["--node", "srv712429"]).code).toBe(0);
    });
});
