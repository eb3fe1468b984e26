// Node changes over real SSH on real-systemd machines behind the real control plane: the
// program's commands, captured under the mock runtime and run by the test executor (which keeps,
// like the engine, the steps that succeeded). The happy path, the engine's memory, idempotence,
// a refused host key, sudo, and where the secrets go.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { changeState, labConfig, LAB_NODES, newState, nodeView, ran, rollout, secretValues, stepNames } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

const OLD = "v1.33.4+k3s1";
const NEW = "v1.33.5+k3s1";
const esc = (s: string) => s.replace(/[.+]/g, "\\$&");

let lab: NodeLab;

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: OLD })), subnet: 1 });
});
afterAll(async () => {
    await lab?.stop();
});

/** Snapshots every process's arguments while `work` runs, to catch a secret on a command line. */
async function watchingProcesses<T>(work: Promise<T>): Promise<{ result: T; seen: Set<string> }> {
    const seen = new Set<string>();
    let done = false;
    const sampler = (async () => {
        while (!done) {
            for (const args of lab.processArgs()) seen.add(args);
            await new Promise((r) => setTimeout(r, 100));
        }
    })();
    const result = await work;
    done = true;
    await sampler;
    return { result, seen };
}

const nodeState = () =>
    LAB_NODES.map((n) => ({ node: n.name, version: lab.installedVersion(n.name), installs: lab.installs(n.name).length, pid: lab.servicePid(n.name) }));

suite("k3s node changes over SSH", () => {
    const state = () => stateFile;
    let stateFile = "";
    beforeAll(() => {
        stateFile = newState(lab);
    });

    it("refuses a node whose host key is not the pinned one before anything changes anywhere", async () => {
        const before = nodeState();
        // The server's pin is another node's key: the first step cannot even connect.
        const config = labConfig(lab, NEW, { hostKeys: { srv712429: lab.node("calypso").hostKey } });
        const run = await rollout(lab, config, { state: newState(lab) });
        expect(run.steps.map((s) => s.name)).toEqual(["srv712429-k3s-change-preflight"]);
        expect(run.error).toMatch(/^srv712429-k3s-change-preflight: cannot connect to 10\.198\.1\.1:22: .*verification failed/i);
        expect(nodeState()).toEqual(before);
    });

    it("upgrades the server, then the canary, then the other agent: drained, armed, gated, confirmed and uncordoned one after another", async () => {
        const { result: run, seen } = await watchingProcesses(rollout(lab, labConfig(lab, NEW), { state: state() }));
        expect(run.error).toBeUndefined();
        expect(run.steps.map((s) => s.name)).toEqual(LAB_NODES.flatMap((n) => stepNames(n.name)));
        const steps = run.steps as Array<{ name: string; startedAt: number; endedAt: number; code: number; stdout: string; operation: string }>;
        for (let i = 1; i < steps.length; i++) expect(steps[i].startedAt).toBeGreaterThanOrEqual(steps[i - 1].endedAt);
        expect(steps.every((s) => s.code === 0 && s.operation === "create")).toBe(true);
        for (const n of LAB_NODES) {
            const step = (s: string) => steps.find((x) => x.name === `${n.name}-k3s-change-${s}`)!.stdout.trim();
            expect(lab.installedVersion(n.name)).toBe(NEW);
            expect(lab.installs(n.name).at(-1)).toMatch(new RegExp(`^\\d+ ${esc(NEW)} (agent|server)$`));
            // Agents are held to the version the server runs, as the API server reports it.
            expect(step("drain")).toBe(
                [
                    ...(n.role === "agent" ? [`preflight ok: the server srv712429 runs ${NEW}`] : []),
                    `drained: ${n.name}: evicted 0 pods; left 0 (DaemonSet or mirror pods)`,
                ].join("\n"),
            );
            const armed = new RegExp(
                `^armed: change=(\\d{8}T\\d{6}Z-[0-9a-f]{8}) reverts at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ unless confirmed$`,
                "m",
            ).exec(step("apply"));
            expect(armed).not.toBeNull();
            const id = armed![1];
            expect(step("apply")).toMatch(new RegExp(`\nprevious: ${esc(OLD)}\napplied: ${n.name} now runs ${esc(NEW)}\napplied-at: \\d+\\.\\d{9}$`));
            expect(step("gate")).toMatch(new RegExp(`^GATE PASSED node=${n.name} version=${esc(NEW)} healthy for [5-9]s after \\d+s$`));
            expect(step("confirm")).toBe(`confirmed: k3s change ${id} on ${n.name}; revert disarmed`);
            expect(step("uncordon")).toBe(`uncordoned: ${n.name}`);
            // On the node: the change is confirmed and its revert units are gone.
            expect(changeState(lab, n.name)).toMatchObject({ state: "confirmed", id });
            expect(
                lab
                    .inNode(n.name, "ls /etc/systemd/system | grep -c oceanid-revert; systemctl is-active k3s k3s-agent | grep -c '^active$'")
                    .out.split("\n")
                    .slice(0, 2),
            ).toEqual(["0", "1"]);
            // In the API: the node's own report, and no cordon left.
            const view = await nodeView(lab, n.name);
            expect(view).toMatchObject({ unschedulable: false, ready: "True", kubelet: NEW });
            expect(view.cordonedBy).toBeUndefined();
            expect(view.condition).toEqual({
                status: "False",
                reason: "Confirmed",
                message: expect.stringMatching(new RegExp(`^k3s change ${id}: confirmed at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`)),
            });
        }
        // The agents joined with the token from a root-only file, referenced by the unit's environment.
        const env = readFileSync(lab.nodePath("calypso", "/etc/systemd/system/k3s-agent.service.env"), "utf8");
        expect(env).toMatch(/^K3S_TOKEN_FILE=["']?\/etc\/rancher\/k3s\/oceanid-token["']?$/m);
        expect(env).not.toContain(lab.k3sToken);
        // No secret on any command line of the machine while it ran, in what the steps printed, the run's output, or any log.
        const leaks = [...seen].filter((args) => secretValues(lab).some((s) => args.includes(s)));
        expect(leaks).toEqual([]);
        const printed = JSON.stringify(run.steps) + run.output + lab.logs();
        for (const secret of secretValues(lab)) expect(printed.includes(secret)).toBe(false);
    });

    it("keeps every step of a run that succeeded, as the engine does: a second `up` runs nothing", async () => {
        const before = nodeState();
        const run = await rollout(lab, labConfig(lab, NEW), { state: state() });
        expect(run.error).toBeUndefined();
        expect(ran(run)).toEqual([]);
        expect(run.steps).toHaveLength(18);
        expect(nodeState()).toEqual(before);
    });

    it("changes nothing on nodes already at the target when the whole chain runs again", async () => {
        const before = nodeState();
        const run = await rollout(lab, labConfig(lab, NEW), { state: newState(lab) });
        expect(run.error).toBeUndefined();
        expect(ran(run)).toHaveLength(18);
        for (const n of LAB_NODES) {
            const apply = run.steps.find((s) => s.name === `${n.name}-k3s-change-apply`) as { stdout: string };
            expect(apply.stdout.trim()).toMatch(
                new RegExp(`\nprevious: ${esc(NEW)}\nunchanged: ${n.name} already runs ${esc(NEW)}\napplied-at: \\d+\\.\\d{9}$`),
            );
        }
        // Same versions, no installer run, no service restart.
        expect(nodeState()).toEqual(before);
    });

    it("runs every node step through sudo -n for a login other than root, and fails plainly without sudo rights", async () => {
        for (const n of LAB_NODES) {
            const add = lab.inNode(
                n.name,
                "useradd -m -s /bin/bash oceanid && mkdir -p ~oceanid/.ssh && cp /root/.ssh/authorized_keys ~oceanid/.ssh/ && chown -R oceanid ~oceanid/.ssh && " +
                    "echo 'oceanid ALL=(root) NOPASSWD: ALL' >/etc/sudoers.d/oceanid && chmod 440 /etc/sudoers.d/oceanid && passwd -d oceanid >/dev/null",
            );
            expect(add.code, add.out).toBe(0);
        }
        const before = nodeState();
        const run = await rollout(lab, labConfig(lab, NEW, { user: "oceanid" }), { state: newState(lab) });
        expect(run.error).toBeUndefined();
        expect(ran(run)).toHaveLength(18);
        expect(nodeState()).toEqual(before);

        // Without sudo rights the first step stops with sudo's own words, and nothing runs after it.
        expect(lab.inNode("srv712429", "rm /etc/sudoers.d/oceanid").code).toBe(0);
        const refused = await rollout(lab, labConfig(lab, NEW, { user: "oceanid" }), { state: newState(lab) });
        expect(refused.steps.map((s) => s.name)).toEqual(["srv712429-k3s-change-preflight"]);
        expect((refused.steps[0] as { stderr: string }).stderr).toContain("sudo: a password is required");
        expect(existsSync(lab.nodePath("srv712429", "/var/lib/oceanid/changes/k3s/backup.new"))).toBe(false);
    });
});
