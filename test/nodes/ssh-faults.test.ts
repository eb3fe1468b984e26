// A node change that breaks the node: the canary stops answering right after
// its upgrade (an iptables DROP on its veth, like the incident's lost network).
// The gate fails, the chain stops before the next agent, and the canary's own
// timer restores its previous k3s with no SSH and no network.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { labConfig, LAB_NODES, LAB_TIMINGS, rollout, secretValues } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns"]);

const OLD = "v1.33.4+k3s1";
const NEW = "v1.33.5+k3s1";

let lab: NodeLab;

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: OLD })), subnet: 2 });
});
afterAll(async () => {
    await lab?.stop();
});

const until = async (what: string, check: () => boolean, seconds: number) => {
    const end = Date.now() + seconds * 1000;
    while (!check()) {
        if (Date.now() > end) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
};

/** What must hold once the canary is cut off after its apply step: the chain stopped at its gate, and it reverts by itself. */
async function cutOffCanary(run: Awaited<ReturnType<typeof rollout>>, calypsoBefore: { version: unknown; installs: number; pid: unknown }): Promise<void> {
    // The server went first and was confirmed; the canary got as far as its gate.
    expect(run.steps.map((s) => s.name)).toEqual([
        ...["preflight", "arm", "apply", "gate", "confirm"].map((s) => `srv712429-k3s-change-${s}`),
        ...["preflight", "arm", "apply", "gate"].map((s) => `srv712695-k3s-change-${s}`),
    ]);
    const gate = run.steps.at(-1) as { code: number; stderr: string };
    expect(gate.code).toBe(1);
    const failed = gate.stderr.trim().split("\n").at(-1)!;
    expect(failed).toMatch(/^GATE FAILED node=srv712695 reason=/);
    expect(failed).toContain("ssh 10.198.2.2:22 unreachable");
    expect(run.error).toBe("srv712695-k3s-change-gate: exit 1");
    expect(lab.installedVersion("srv712429")).toBe(NEW);
    // The failure says what went wrong and nothing secret.
    const printed = JSON.stringify(run.steps) + run.output + lab.logs();
    for (const secret of secretValues(lab)) expect(printed.includes(secret)).toBe(false);

    // calypso was never touched: no step ran on it, no installer, no restart.
    expect({ version: lab.installedVersion("calypso"), installs: lab.installs("calypso").length, pid: lab.servicePid("calypso") }).toEqual(calypsoBefore);
    expect(existsSync(lab.nodePath("calypso", "/var/lib/oceanid/changes/k3s"))).toBe(false);

    // With no SSH and no network, the canary's timer puts the old k3s back by itself.
    const reverted = lab.nodePath("srv712695", "/var/lib/oceanid/changes/k3s/reverted-at");
    await until("the canary's revert", () => existsSync(reverted), LAB_TIMINGS.revertAfterSeconds + 15);
    await until("the restored binary", () => lab.installedVersion("srv712695") === OLD, 10);
    // reverted-at is written just before the last two lines of the revert: wait for its end.
    const revertLog = lab.nodePath("srv712695", "/var/lib/oceanid/changes/k3s/revert.log");
    await until("the revert's last line", () => readFileSync(revertLog, "utf8").includes("revert finished at"), 10);
    expect(existsSync(lab.nodePath("srv712695", "/var/lib/oceanid/changes/k3s/armed-at"))).toBe(false);
}

suite("a node change that cuts the canary off", () => {
    it("fails the gate, stops the chain, and the canary reverts itself", async () => {
        const calypsoBefore = { version: lab.installedVersion("calypso"), installs: lab.installs("calypso").length, pid: lab.servicePid("calypso") };
        const running = rollout(lab, labConfig(lab, NEW));
        // The moment the canary's upgrade is done, its network goes.
        await until("the canary's apply step", () => running.ended("srv712695-k3s-change-apply"), 90);
        lab.cutNetwork("srv712695");
        try {
            await cutOffCanary(await running, calypsoBefore);
        } finally {
            // Back on the network even when an assertion failed: the tests after this one need it.
            lab.restoreNetwork("srv712695");
        }
        const pid = lab.servicePid("srv712695");
        expect(pid).toBeDefined();
        expect(lab.inNode("srv712695", "/usr/local/bin/k3s --version").out).toMatch(/^k3s version v1\.33\.4\+k3s1/);
    });

    it("upgrades the reverted canary and then the rest on the next run, once its network is back", async () => {
        const run = await rollout(lab, labConfig(lab, NEW));
        expect(run.error).toBeUndefined();
        for (const n of LAB_NODES) expect(lab.installedVersion(n.name)).toBe(NEW);
    });
});

suite("a release whose k3s stops renewing its Lease, on the server", () => {
    const BROKEN = "v1.33.6+k3s1";
    const REVERT_UNIT = "oceanid-revert-k3s";

    it("fails the server's gate before any agent, refuses another run while the revert is pending, then reverts", async () => {
        lab.markBrokenRelease(BROKEN);
        const agentsBefore = ["srv712695", "calypso"].map((n) => [lab.installedVersion(n), lab.installs(n).length]);
        const running = rollout(lab, labConfig(lab, BROKEN));
        // The revert timer is held from its arming until the second run was refused: on a loaded
        // machine, the gate's timeout plus a whole second run can outlast revertAfterSeconds.
        await until("the server's arm step", () => running.ended("srv712429-k3s-change-arm"), 90);
        lab.holdTimer("srv712429", REVERT_UNIT);
        try {
            const run = await running;
            expect(run.steps.map((s) => s.name)).toEqual(["preflight", "arm", "apply", "gate"].map((s) => `srv712429-k3s-change-${s}`));
            const failed = (run.steps.at(-1) as { stderr: string }).stderr.trim().split("\n").at(-1)!;
            expect(failed).toMatch(/^GATE FAILED node=srv712429 reason=/);
            expect(failed).toMatch(/Lease not renewed since the change \(last renewed [^,]+, change at [^)]+\)/);
            expect(lab.installedVersion("srv712429")).toBe(BROKEN);

            // Until the timer fires, the node refuses a new change rather than stack one on a pending revert.
            const again = await rollout(lab, labConfig(lab, BROKEN));
            expect(again.steps.map((s) => s.name)).toEqual(["srv712429-k3s-change-preflight"]);
            expect((again.steps[0] as { stderr: string }).stderr.trim()).toMatch(
                /^PREFLIGHT FAILED node=srv712429 reason=a revert of k3s is pending since \d+; wait for it, or disarm it with: systemctl stop oceanid-revert-k3s\.timer$/,
            );
        } finally {
            // Released even when an assertion failed: a held timer cannot have fired, so it is still pending.
            lab.releaseTimer("srv712429", REVERT_UNIT);
        }

        await until("the server's revert", () => lab.installedVersion("srv712429") === NEW, LAB_TIMINGS.revertAfterSeconds + 15);
        expect(["srv712695", "calypso"].map((n) => [lab.installedVersion(n), lab.installs(n).length])).toEqual(agentsBefore);
        // The restored k3s heartbeats again: the same gate passes on the old version.
        const back = await rollout(lab, labConfig(lab, NEW));
        expect(back.error).toBeUndefined();
    });
});
