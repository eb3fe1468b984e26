// Faults of the change itself on real-systemd machines: the canary cut off after its upgrade (the
// incident's lost network), an installer that cannot be fetched, a release that registers once and
// then stops heartbeating, a disk that fills up before arming, and a drain a PodDisruptionBudget
// blocks. For each, the operator's outcome: the node ends on a release that answers, or the chain
// stops with one clear line. Each test names its fault.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { changeState, labConfig, LAB_NODES, LAB_TIMINGS, lastStep, newState, nodeView, ran, rollout, secretValues, stepNames, until } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

const CANARY = "srv712695";
const START = "v1.33.4+k3s1";
/** The server runs this from the start, so agents can take every release up to it. */
const TOP = "v1.33.9+k3s1";

let lab: NodeLab;
let state: string;
const timeline: string[] = [];
const versions = (canary: string, calypso = START) => ({ srv712429: TOP, srv712695: canary, calypso });

beforeAll(async () => {
    lab = await NodeLab.start({
        nodes: LAB_NODES.map((n) => ({ ...n, version: n.role === "server" ? TOP : START, ...(n.name === CANARY ? { oceanidDiskMiB: 64 } : {}) })),
        subnet: 6,
    });
    state = newState(lab);
    const run = await rollout(lab, labConfig(lab, versions(START)), { state });
    if (run.error) throw new Error(`priming the stack failed: ${run.error}\n${run.output}`);
}, 240_000);
afterAll(async () => {
    console.log(`faults-release timeline:\n${timeline.join("\n")}`);
    await lab?.stop();
});

const canaryChain = (version: string, opts: { interruptAfter?: string } = {}) =>
    rollout(lab, labConfig(lab, versions(version)), { state, replace: [`${CANARY}-k3s-change-preflight`], ...opts });
const untouched = () => ({ version: lab.installedVersion("calypso"), installs: lab.installs("calypso").length, pid: lab.servicePid("calypso") });

/** Waits out the canary's revert and checks it is back on `version`, Ready, its revert units gone. */
async function reverted(version: string, opts: { cutOff?: boolean } = {}): Promise<number> {
    const armed = changeState(lab, CANARY)!;
    const took = await until("the canary's revert", () => changeState(lab, CANARY)?.state === "reverted", armed.deadline - Date.now() / 1000 + 20);
    const log = lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/revert.log");
    await until("the revert's last line", () => /\nrevert finished at \S+\n/.test(readFileSync(log, "utf8").split("revert of k3s change").at(-1) ?? ""), 15);
    expect(lab.installedVersion(CANARY)).toBe(version);
    expect(lab.inNode(CANARY, "systemctl is-active k3s-agent").out.trim()).toBe("active");
    if (opts.cutOff) return took;
    await until(
        "the canary Ready on its old release",
        async () => {
            const v = await nodeView(lab, CANARY).catch(() => undefined);
            return v?.kubelet === version && v.ready === "True";
        },
        30,
    );
    return took;
}

suite("changes that break", () => {
    it("fault: the canary loses its network right after its upgrade: the gate fails naming it, the other agent is untouched, and the canary reverts with no SSH and no network", async () => {
        const NEXT = "v1.33.5+k3s1";
        const calypso = untouched();
        const running = canaryChain(NEXT);
        await until("the canary's apply step", () => running.ended(`${CANARY}-k3s-change-apply`), 120);
        const cutAt = Date.now() / 1000;
        lab.cutNetwork(CANARY);
        try {
            const run = await running;
            expect(ran(run)).toEqual(stepNames(CANARY, ["preflight", "drain", "apply", "gate"]));
            const gate = lastStep(run);
            expect(gate.line).toMatch(new RegExp(`^GATE FAILED node=${CANARY} reason=.*ssh 10\\.198\\.6\\.2:22 unreachable`));
            expect(run.error).toBe(`${CANARY}-k3s-change-gate: exit 1`);
            const printed = JSON.stringify(run.steps) + run.output;
            for (const secret of secretValues(lab)) expect(printed.includes(secret)).toBe(false);
            // The node's own timer, with no SSH and no network, puts the old k3s back.
            const took = await reverted(START, { cutOff: true });
            expect(untouched()).toEqual(calypso);
            timeline.push(
                `cut off after apply: reverted ${(changeState(lab, CANARY)!.at - cutAt).toFixed(0)}s after the cut (waited ${took.toFixed(0)}s after the gate failed)`,
            );
        } finally {
            lab.restoreNetwork(CANARY);
        }
        // Back on the network: Ready on the old release, seen by the API.
        await until(
            "the canary Ready on its old release",
            async () => {
                const v = await nodeView(lab, CANARY).catch(() => undefined);
                return v?.kubelet === START && v.ready === "True";
            },
            30,
        );
    });

    it("fault: the installer cannot be fetched: apply reverts at once and says so; the node stays cordoned (reported) until a plain re-run finishes the chain", async () => {
        const NEXT = "v1.33.5+k3s1";
        await lab.setReleasesReachable(false);
        let run;
        try {
            run = await canaryChain(NEXT);
        } finally {
            await lab.setReleasesReachable(true);
        }
        expect(ran(run)).toEqual(stepNames(CANARY, ["preflight", "drain", "apply"]));
        expect(lastStep(run).line).toBe(
            `APPLY FAILED node=${CANARY} reason=cannot fetch the k3s installer from ${lab.installScriptUrl}; reverted: ${CANARY} is back to its state before the change`,
        );
        expect(changeState(lab, CANARY)?.state).toBe("reverted");
        expect(lab.installedVersion(CANARY)).toBe(START);
        const view = await nodeView(lab, CANARY);
        expect(view).toMatchObject({ unschedulable: true, cordonedBy: "node-change/k3s", condition: { status: "False", reason: "Reverted" } });
        // The engine kept preflight and drain: the plain re-run starts at apply and ends uncordoned.
        const again = await rollout(lab, labConfig(lab, versions(NEXT)), { state });
        expect(again.error).toBeUndefined();
        expect(ran(again)).toEqual(stepNames(CANARY, ["apply", "gate", "confirm", "uncordon"]));
        expect(lab.installedVersion(CANARY)).toBe(NEXT);
        expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: false, ready: "True", kubelet: NEXT });
    });

    it("fault: a release that registers once and then stops heartbeating: the gate's settle window catches it and the canary reverts", async () => {
        const ONCE = "v1.33.6+k3s1";
        // Its one heartbeat comes 4 s after it starts: after apply printed the node's clock.
        lab.setRelease(ONCE, "once-after=4");
        const run = await canaryChain(ONCE);
        expect(ran(run)).toEqual(stepNames(CANARY, ["preflight", "drain", "apply", "gate"]));
        // Seen healthy once (Ready, renewed after the change, the right version), then its Lease stands still.
        expect(lastStep(run).line).toMatch(
            new RegExp(`^GATE FAILED node=${CANARY} reason=(.*; )?Lease not renewed for \\d+s \\(limit ${LAB_TIMINGS.maxLeaseAgeSeconds}s\\)`),
        );
        await reverted("v1.33.5+k3s1");
        timeline.push("registers once, then silent: the gate failed after one renewal; reverted at the deadline");
    });
});

suite("before anything changes", () => {
    it("fault: the disk fills between preflight and apply: arming refuses with the sizes, keeps the last backup whole, and changes nothing", async () => {
        const NEXT = "v1.33.6+k3s1";
        lab.setRelease(NEXT, "ok");
        const backup = lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/backup/manifest");
        const lastBackup = readFileSync(backup, "utf8");
        // Ctrl-C after the drain, then the canary's disk fills up, then the plain re-run.
        const first = await canaryChain(NEXT, { interruptAfter: `${CANARY}-k3s-change-drain` });
        expect(first.error).toBe(`${CANARY}-k3s-change-apply: interrupted`);
        const fill = "avail=$(df -Pk /var/lib/oceanid | awk 'NR==2 {print $4}'); fallocate -l $(((avail - 2048) * 1024)) /var/lib/oceanid/filler && echo full";
        expect((await lab.inNodeAsync(CANARY, fill)).out.trim()).toBe("full");
        try {
            const run = await rollout(lab, labConfig(lab, versions(NEXT)), { state });
            expect(ran(run)).toEqual(stepNames(CANARY, ["apply"]));
            const m =
                /^APPLY FAILED node=srv712695 reason=only (\d+) MiB free under \/var\/lib\/oceanid\/changes\/k3s for the backup; it needs (\d+) MiB: free space on that filesystem$/.exec(
                    lastStep(run).line,
                );
            expect(m, lastStep(run).line).not.toBeNull();
            expect(readFileSync(backup, "utf8")).toBe(lastBackup);
            expect(existsSync(lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/backup.new"))).toBe(false);
            expect(changeState(lab, CANARY)?.state).toBe("reverted");
            expect(lab.installedVersion(CANARY)).toBe("v1.33.5+k3s1");
        } finally {
            await lab.inNodeAsync(CANARY, "rm -f /var/lib/oceanid/filler");
        }
        const again = await rollout(lab, labConfig(lab, versions(NEXT)), { state });
        expect(again.error).toBeUndefined();
        expect(lab.installedVersion(CANARY)).toBe(NEXT);
    });

    it("fault: a drain that a PodDisruptionBudget blocks: the drain fails naming the pod and the budget, uncordons, and nothing changes; without the budget the pod is evicted and the change goes through", async () => {
        const NEXT = "v1.33.7+k3s1";
        const manifest = `${lab.dir}/pdb.yaml`;
        writeFileSync(
            manifest,
            JSON.stringify({
                apiVersion: "v1",
                kind: "List",
                items: [
                    {
                        apiVersion: "apps/v1",
                        kind: "Deployment",
                        metadata: { name: "db", namespace: "default" },
                        spec: {
                            replicas: 1,
                            selector: { matchLabels: { app: "db" } },
                            template: {
                                metadata: { labels: { app: "db" } },
                                spec: { nodeName: CANARY, containers: [{ name: "db", image: "registry.example/db:1" }] },
                            },
                        },
                    },
                    {
                        apiVersion: "policy/v1",
                        kind: "PodDisruptionBudget",
                        metadata: { name: "db", namespace: "default" },
                        spec: { minAvailable: 1, selector: { matchLabels: { app: "db" } } },
                    },
                ],
            }),
        );
        const applied = await lab.kubectl(["apply", "-f", manifest]);
        expect(applied.code, applied.stderr).toBe(0);
        // The canary's stand-in kubelet runs the pod; the disruption controller then allows no disruption.
        await until(
            "the budget to allow no disruption",
            async () => {
                const r = await lab.kubectl(["get", "pdb", "db", "-o", "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}"]);
                return r.stdout === "1/0";
            },
            60,
        );
        const pod = (await lab.kubectl(["get", "pods", "-l", "app=db", "-o", "jsonpath={.items[0].metadata.name}"])).stdout;
        const run = await canaryChain(NEXT);
        expect(ran(run)).toEqual(stepNames(CANARY, ["preflight", "drain"]));
        expect(lastStep(run).line).toBe(
            `DRAIN FAILED node=${CANARY} reason=pods did not leave within ${LAB_TIMINGS.drainTimeoutSeconds}s: default/${pod} (PodDisruptionBudget default/db allows no disruption)`,
        );
        expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: false });
        expect(lab.installedVersion(CANARY)).toBe("v1.33.6+k3s1");

        expect((await lab.kubectl(["delete", "pdb", "db"])).code).toBe(0);
        const again = await canaryChain(NEXT);
        expect(again.error).toBeUndefined();
        const drain = again.steps.find((s) => s.name === `${CANARY}-k3s-change-drain`) as { stdout: string };
        expect(drain.stdout).toContain(`drained: ${CANARY}: evicted 1 pod (default/${pod}); left 0 (DaemonSet or mirror pods)`);
        expect(lab.installedVersion(CANARY)).toBe(NEXT);
        expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: false, kubelet: NEXT });
    });
});
