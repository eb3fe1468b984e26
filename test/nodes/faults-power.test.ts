// Faults of power and reboots while a change is armed, on real-systemd machines: the canary gets a
// release that never heartbeats, its gate fails, and then the operator (or the power) reboots it.
// The revert is durable: a reboot before the deadline keeps it armed, and a node that comes back
// after the deadline reverts at boot. Each test names its fault.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { changeState, labConfig, LAB_NODES, LAB_TIMINGS, lastStep, newState, nodeView, ran, rollout, stepNames, until } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

const SERVER = "v1.33.6+k3s1";
const OLD = "v1.33.4+k3s1";
const BROKEN = "v1.33.5+k3s1";
const CANARY = "srv712695";
const versions = (canary: string) => ({ srv712429: SERVER, srv712695: canary, calypso: OLD });

let lab: NodeLab;
let state: string;
const timeline: string[] = [];

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: n.role === "server" ? SERVER : OLD })), subnet: 2 });
    lab.setRelease(BROKEN, "never");
    // The stack as it is: every node confirmed at the version it runs, so each test changes only the canary.
    state = newState(lab);
    const run = await rollout(lab, labConfig(lab, versions(OLD)), { state });
    if (run.error) throw new Error(`priming the stack failed: ${run.error}\n${run.output}`);
}, 240_000);
afterAll(async () => {
    console.log(`faults-power timeline (seconds after arming):\n${timeline.join("\n")}`);
    await lab?.stop();
});

/** The canary's whole chain again (`pulumi up --replace` of its preflight, as the gate's line says), up to its failed gate. */
async function breakTheCanary(): Promise<{ armedAt: number; deadline: number; id: string }> {
    const run = await rollout(lab, labConfig(lab, versions(BROKEN)), { state, replace: ["srv712695-k3s-change-preflight"] });
    expect(ran(run)).toEqual(stepNames(CANARY, ["preflight", "drain", "apply", "gate"]));
    const gate = lastStep(run);
    expect(gate.line).toMatch(
        new RegExp(
            `^GATE FAILED node=${CANARY} reason=.*Lease not renewed since the change.*; ${CANARY} reverts by itself unless confirmed; to run the change again once it has: pulumi up --replace 'urn:pulumi:dev::oceanid-infra::.*srv712695-k3s-change-preflight'$`,
        ),
    );
    expect(lab.installedVersion(CANARY)).toBe(BROKEN);
    const s = changeState(lab, CANARY)!;
    expect(s.state).toBe("armed");
    expect(s.deadline - s.armedAt).toBe(LAB_TIMINGS.revertAfterSeconds);
    return { armedAt: s.armedAt, deadline: s.deadline, id: s.id };
}

/** After the revert: the old release runs, the node is Ready again and reported Reverted; the cordon stays, reported. */
async function backOnTheOldRelease(id: string): Promise<void> {
    // The state says reverted a moment before the revert disarms its units and ends: wait for its last line.
    const log = lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/revert.log");
    await until("the revert's last line", () => /\nrevert finished at \S+\n/.test(readFileSync(log, "utf8").split("revert of k3s change").at(-1) ?? ""), 15);
    await until(
        "the canary Ready on its old release",
        async () => (await nodeView(lab, CANARY)).kubelet === OLD && (await nodeView(lab, CANARY)).ready === "True",
        30,
    );
    expect(lab.installedVersion(CANARY)).toBe(OLD);
    expect(lab.inNode(CANARY, "systemctl is-active k3s-agent; ls /etc/systemd/system | grep -c oceanid-revert").out.trim().split("\n")).toEqual([
        "active",
        "0",
    ]);
    const view = await nodeView(lab, CANARY);
    expect(view.condition).toEqual({ status: "False", reason: "Reverted", message: expect.stringMatching(new RegExp(`^k3s change ${id}: reverted at `)) });
    // Drained before the change and never uncordoned: the cordon stays, marked as ours, for health to report.
    expect(view).toMatchObject({ unschedulable: true, cordonedBy: "node-change/k3s" });
}

suite("durable reverts", () => {
    it("fault: the canary is rebooted while armed, before its deadline: the revert still runs at the deadline", async () => {
        const { armedAt, deadline, id } = await breakTheCanary();
        const rebootMs = await lab.reboot(CANARY);
        // Rebooted well before the deadline: still armed, and the deadline is back with the machine.
        expect(Date.now() / 1000).toBeLessThan(deadline - 3);
        expect(changeState(lab, CANARY)).toMatchObject({ state: "armed", id });
        expect(
            lab
                .inNode(CANARY, "systemctl is-enabled oceanid-revert-k3s.timer oceanid-revert-k3s.service; systemctl is-active oceanid-revert-k3s.timer")
                .out.trim()
                .split("\n"),
        ).toEqual(["enabled", "enabled", "active"]);
        await until("the revert", () => changeState(lab, CANARY)?.state === "reverted", deadline - Date.now() / 1000 + 15);
        const revertedAt = changeState(lab, CANARY)!.at;
        expect(revertedAt).toBeGreaterThanOrEqual(deadline);
        expect(revertedAt).toBeLessThanOrEqual(deadline + 3);
        await backOnTheOldRelease(id);
        timeline.push(
            `reboot before the deadline: rebooted in ${(rebootMs / 1000).toFixed(1)}s; reverted at +${revertedAt - armedAt}s (deadline +${deadline - armedAt}s)`,
        );
    });

    it("fault: the canary goes down cleanly while armed and comes back after its deadline: it reverts at boot", async () => {
        const { armedAt, deadline, id } = await breakTheCanary();
        await lab.reboot(CANARY, { holdDown: true });
        await until("the deadline to pass with the canary down", () => Date.now() / 1000 > deadline + 3, deadline - Date.now() / 1000 + 10);
        expect(changeState(lab, CANARY)).toMatchObject({ state: "armed", id });
        const bootMs = await lab.powerOn(CANARY);
        const bootedAt = lab.boots(CANARY).at(-1)!.at;
        const toRevert = await until("the revert at boot", () => changeState(lab, CANARY)?.state === "reverted", 20);
        expect(changeState(lab, CANARY)!.at).toBeGreaterThanOrEqual(Math.floor(bootedAt));
        await backOnTheOldRelease(id);
        const readyAt = Date.now() / 1000;
        timeline.push(
            `down across the deadline: booted at +${(bootedAt - armedAt).toFixed(1)}s (sshd after ${(bootMs / 1000).toFixed(1)}s), reverted ${(toRevert + bootMs / 1000).toFixed(1)}s after power-on, Ready on ${OLD} ${(readyAt - bootedAt).toFixed(1)}s after boot`,
        );
    });

    it("fault: a power loss while armed, back before the deadline: the revert runs at the deadline; and a power loss past it reverts at boot", async () => {
        const first = await breakTheCanary();
        await lab.powerOff(CANARY);
        await lab.powerOn(CANARY);
        expect(changeState(lab, CANARY)).toMatchObject({ state: "armed", id: first.id });
        await until("the revert", () => changeState(lab, CANARY)?.state === "reverted", first.deadline - Date.now() / 1000 + 15);
        const at = changeState(lab, CANARY)!.at;
        expect(at).toBeGreaterThanOrEqual(first.deadline);
        expect(at).toBeLessThanOrEqual(first.deadline + 3);
        await backOnTheOldRelease(first.id);
        timeline.push(`power loss before the deadline: reverted at +${at - first.armedAt}s (deadline +${first.deadline - first.armedAt}s)`);

        const second = await breakTheCanary();
        await lab.powerOff(CANARY);
        await until("the deadline to pass with the canary off", () => Date.now() / 1000 > second.deadline + 3, second.deadline - Date.now() / 1000 + 10);
        const bootMs = await lab.powerOn(CANARY);
        const toRevert = await until("the revert at boot", () => changeState(lab, CANARY)?.state === "reverted", 20);
        await backOnTheOldRelease(second.id);
        // The power loss ended the first boot without a clean exit.
        expect(lab.boots(CANARY).at(-2)!.exit).not.toBe(133);
        timeline.push(`power loss across the deadline: reverted ${(toRevert + bootMs / 1000).toFixed(1)}s after power-on`);
    });
});
