// Faults of the chain itself on real-systemd machines: `pulumi up` interrupted between steps or
// killed mid-step and run again plainly (the engine keeps the steps that succeeded), sshd killed
// during apply, the SSH connection lost between the gate and confirm while the revert runs, a
// second run during a revert, and a revert whose backup is gone. For each, the operator's
// outcome: the node ends on a release that answers, or the chain stops with one clear line.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { changeState, labConfig, LAB_NODES, lastStep, newState, nodeView, ran, rollout, stepNames, until, writeLabStackFile } from "./lab-stack";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

const OLD = "v1.33.4+k3s1";
const NEW = "v1.33.5+k3s1";
// Each test moves the cluster one release on: k3s does not go back.
const V2 = "v1.33.6+k3s1";
const V3 = "v1.33.7+k3s1";
const CANARY = "srv712695";
const SERVER = "srv712429";
const esc = (s: string) => s.replace(/[.+$]/g, "\\$&");
const REVERT_NOW = "sudo /var/lib/oceanid/changes/k3s/revert.sh --now";
const UTC = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ";

let lab: NodeLab;
/** The stack the connection-drop test leaves every node confirmed in; the next test goes on from it. */
let shared = "";

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: OLD })), subnet: 5 });
});
afterAll(async () => {
    await lab?.stop();
});

const line = (run: Awaited<ReturnType<typeof rollout>>) => lastStep(run).line;
const unresolvedArmed = (id: string) =>
    new RegExp(
        `the k3s change ${id} armed at ${UTC} is neither confirmed nor reverted: it reverts at ${UTC} \\(in \\d+s\\); wait for that, or revert it now with: ${esc(REVERT_NOW)}$`,
    );

suite("interrupted and repeated runs", () => {
    it(
        "fault: `pulumi up` interrupted after the canary's drain, then run again plainly: the kept steps stay, apply arms afresh",
        { timeout: 300_000 },
        async () => {
            const state = newState(lab);
            const first = await rollout(lab, labConfig(lab, NEW), { state, interruptAfter: `${CANARY}-k3s-change-drain` });
            expect(first.error).toBe(`${CANARY}-k3s-change-apply: interrupted`);
            expect(lab.installedVersion(SERVER)).toBe(NEW);
            expect(lab.installedVersion(CANARY)).toBe(OLD);
            expect(changeState(lab, CANARY)).toBeUndefined();
            // The canary stays drained until the chain goes on: its cordon is ours and says so.
            expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: true, cordonedBy: "node-change/k3s" });

            const again = await rollout(lab, labConfig(lab, NEW), { state });
            expect(again.error).toBeUndefined();
            // Nothing of the server's chain nor the canary's first two steps runs again.
            expect(ran(again)).toEqual([...stepNames(CANARY, ["apply", "gate", "confirm", "uncordon"]), ...stepNames("calypso")]);
            for (const n of LAB_NODES) expect(lab.installedVersion(n.name)).toBe(NEW);
            expect(changeState(lab, CANARY)?.state).toBe("confirmed");
            expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: false, ready: "True", kubelet: NEW });
        },
    );

    it(
        "fault: `pulumi up` killed during the canary's apply: a plain re-run refuses to apply over the unresolved change, names the way out, and goes through once it is taken",
        { timeout: 300_000 },
        async () => {
            const state = newState(lab);
            const running = rollout(lab, labConfig(lab, V2), { state });
            // Killed the moment the canary's change is armed, while its installer runs.
            await until(
                "the canary's arm",
                () => changeState(lab, CANARY)?.state === "armed" && changeState(lab, CANARY)!.armedAt * 1000 > Date.now() - 30_000,
                120,
            );
            running.kill();
            expect((await running).error).toBe("killed");
            const armed = changeState(lab, CANARY)!;

            const again = await rollout(lab, labConfig(lab, V2), { state });
            // The engine kept preflight and drain: apply is the first step to run, and it refuses.
            expect(ran(again)).toEqual(stepNames(CANARY, ["apply"]));
            expect(line(again)).toMatch(new RegExp(`^APPLY FAILED node=${CANARY} reason=`));
            expect(line(again)).toMatch(unresolvedArmed(armed.id));
            expect(changeState(lab, CANARY)).toEqual(armed);

            // The way out the line names, over SSH as an operator would.
            const out = (await lab.inNodeAsync(CANARY, REVERT_NOW.replace("sudo ", ""))).out;
            expect(out).toMatch(new RegExp(`^revert of k3s change ${armed.id} started at ${UTC}\n(.*\n)*revert finished at ${UTC}\n?$`));
            expect(changeState(lab, CANARY)?.state).toBe("reverted");
            const done = await rollout(lab, labConfig(lab, V2), { state });
            expect(done.error).toBeUndefined();
            for (const n of LAB_NODES) expect(lab.installedVersion(n.name)).toBe(V2);
            expect(changeState(lab, CANARY)?.state).toBe("confirmed");
        },
    );

    it(
        "fault: sshd killed during apply: the step fails, the node keeps an armed change that reverts at its deadline, and the next run goes through",
        { timeout: 300_000 },
        async () => {
            const state = newState(lab);
            const running = rollout(lab, labConfig(lab, V3), { state });
            await until(
                "the canary's arm",
                () => changeState(lab, CANARY)?.state === "armed" && changeState(lab, CANARY)!.armedAt * 1000 > Date.now() - 30_000,
                120,
            );
            // Every sshd of the node, the listener and the session running apply.
            expect((await lab.inNodeAsync(CANARY, "pkill -KILL -x sshd; echo killed")).out.trim()).toBe("killed");
            const run = await running;
            expect(run.error).toMatch(new RegExp(`^${CANARY}-k3s-change-apply: `));
            const armed = changeState(lab, CANARY)!;
            expect(armed.state).toBe("armed");
            // systemd brings sshd back (Restart=on-failure); the armed revert is what puts the node back.
            await until("sshd back", async () => (await lab.inNodeAsync(CANARY, "systemctl is-active ssh")).out.trim() === "active", 20);
            await until("the revert at the deadline", () => changeState(lab, CANARY)?.state === "reverted", armed.deadline - Date.now() / 1000 + 15);
            expect(changeState(lab, CANARY)!.at).toBeGreaterThanOrEqual(armed.deadline);
            await until("the canary Ready on its old release", async () => (await nodeView(lab, CANARY)).kubelet === V2, 20);

            const again = await rollout(lab, labConfig(lab, V3), { state });
            expect(again.error).toBeUndefined();
            expect(ran(again)[0]).toBe(`${CANARY}-k3s-change-apply`);
            for (const n of LAB_NODES) expect(lab.installedVersion(n.name)).toBe(V3);
        },
    );
});

suite("confirm against a running revert", () => {
    it(
        "fault: the connection drops after the server's gate passed: its revert runs and wins over confirm; a second run waits it out; the line says how to run the change again",
        { timeout: 400_000 },
        async () => {
            // The release the server goes back to takes 12 s to start: its revert runs that long.
            lab.setRelease(V3, "slow-start=12");
            const reinstall = await lab.inNodeAsync(
                SERVER,
                `curl -sfL ${lab.installScriptUrl} | INSTALL_K3S_VERSION=${V3} INSTALL_K3S_EXEC=server K3S_TOKEN_FILE=/etc/rancher/k3s/token sh -`,
            );
            expect(reinstall.code, reinstall.out).toBe(0);
            lab.setRelease(V3, "ok");
            const NEXT = "v1.33.8+k3s1";
            const state = (shared = newState(lab));
            const running = rollout(lab, labConfig(lab, { srv712429: NEXT, srv712695: V3, calypso: V3 }), { state });
            await until("the server's gate", () => running.ended(`${SERVER}-k3s-change-gate`), 120);
            lab.cutNetwork(SERVER);
            try {
                // Confirm keeps dialling (3 tries of 15 s) while the deadline comes and the revert starts.
                const armed = changeState(lab, SERVER)!;
                await until("the server's revert to start", () => changeState(lab, SERVER)?.state === "reverting", armed.deadline - Date.now() / 1000 + 15);
            } finally {
                lab.restoreNetwork(SERVER);
            }
            const id = changeState(lab, SERVER)!.id;
            // While it reverts, another stack's run (nothing kept) is refused by preflight.
            const other = await rollout(lab, labConfig(lab, NEXT), { state: newState(lab) });
            expect(ran(other)).toEqual(stepNames(SERVER, ["preflight"]));
            expect(line(other)).toMatch(
                new RegExp(
                    `^PREFLIGHT FAILED node=${SERVER} reason=the revert of the k3s change ${id} is running since ${UTC}; wait for it \\(journalctl -u oceanid-revert-k3s\\.service\\)$`,
                ),
            );
            // This stack's confirm gets through once the network is back (or, had its dialling given
            // up, on the plain re-run), waits for the revert holding the lock, and loses to it.
            let run = await running;
            if (lastStep(run).name === `${SERVER}-k3s-change-confirm` && lastStep(run).error !== undefined) {
                run = await rollout(lab, labConfig(lab, { srv712429: NEXT, srv712695: V3, calypso: V3 }), { state });
                expect(ran(run)).toEqual(stepNames(SERVER, ["confirm"]));
            }
            const confirm = lastStep(run);
            expect(confirm.name).toBe(`${SERVER}-k3s-change-confirm`);
            expect(confirm.line, JSON.stringify(run.steps.at(-1))).toMatch(
                new RegExp(
                    `^CONFIRM FAILED node=${SERVER} reason=(the revert of the k3s change ${id} started at ${UTC}, before it was confirmed: ${SERVER} is going back|the k3s change ${id} was reverted at ${UTC}, before it was confirmed: ${SERVER} is back) to its state before the change \\(see /var/lib/oceanid/changes/k3s/revert\\.log\\); to run the change again: pulumi up --replace 'urn:pulumi:dev::oceanid-infra::.*${SERVER}-k3s-change-preflight'$`,
                ),
            );
            // It answered without waiting out the revert: the revert had won.
            expect(confirm.code).toBe(1);
            await until("the revert's end", () => changeState(lab, SERVER)?.state === "reverted", 30);
            expect(lab.installedVersion(SERVER)).toBe(V3);
            // A plain re-run now stops at confirm again, with the same line: kept steps are not re-run.
            const plain = await rollout(lab, labConfig(lab, { srv712429: NEXT, srv712695: V3, calypso: V3 }), { state });
            expect(ran(plain)).toEqual(stepNames(SERVER, ["confirm"]));
            const revertedAt = new Date(changeState(lab, SERVER)!.at * 1000).toISOString().replace(/\.\d+Z$/, "Z");
            expect(line(plain)).toBe(
                `CONFIRM FAILED node=${SERVER} reason=the k3s change ${id} was reverted at ${revertedAt}, before it was confirmed: ${SERVER} is back to its state before the change ` +
                    `(see /var/lib/oceanid/changes/k3s/revert.log); to run the change again: ${confirm.line.split("to run the change again: ")[1]}`,
            );

            // The way out: the whole chain again.
            await until("the server Ready again", async () => (await nodeView(lab, SERVER).catch(() => ({ ready: "" }))).ready === "True", 60);
            const rerun = await rollout(lab, labConfig(lab, { srv712429: NEXT, srv712695: V3, calypso: V3 }), {
                state,
                replace: [`${SERVER}-k3s-change-preflight`],
            });
            expect(rerun.error).toBeUndefined();
            // The server's whole chain, then the agents' (their first run in this stack: nothing to change).
            expect(ran(rerun)).toEqual([...stepNames(SERVER), ...stepNames(CANARY), ...stepNames("calypso")]);
            expect(lab.installedVersion(SERVER)).toBe(NEXT);
        },
    );
});

suite("a revert that cannot restore", () => {
    it(
        "fault: the backup is gone when the revert runs: it fails loudly, preflight and oceanid-health report it, and the runbook's way out clears it",
        { timeout: 300_000 },
        async () => {
            // The stack the test before left (every node confirmed); the canary gets a release that never
            // heartbeats, on the server's minor line so the skew rules let it through.
            const state = shared;
            const server = lab.installedVersion(SERVER)!;
            const before = lab.installedVersion(CANARY)!;
            const canaryBroken = "v1.33.7+k3s2";
            lab.setRelease(canaryBroken, "never");
            const run = await rollout(lab, labConfig(lab, { srv712429: server, srv712695: canaryBroken, calypso: lab.installedVersion("calypso")! }), {
                state,
            });
            expect(run.steps.length, `${run.error}\n${run.output.slice(-3000)}`).toBeGreaterThan(0);
            expect(lastStep(run).name).toBe(`${CANARY}-k3s-change-gate`);
            const armed = changeState(lab, CANARY)!;
            rmSync(lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/backup/usr/local/bin/k3s"));

            await until("the revert to fail", () => changeState(lab, CANARY)?.state === "revert-failed", armed.deadline - Date.now() / 1000 + 15);
            const failed = changeState(lab, CANARY)!;
            expect(failed.reason).toBe("the backup of /usr/local/bin/k3s is missing");
            const log = readFileSync(lab.nodePath(CANARY, "/var/lib/oceanid/changes/k3s/revert.log"), "utf8");
            expect(log).toContain("problem: the backup of /usr/local/bin/k3s is missing\n");
            expect(log).toMatch(new RegExp(`revert failed at ${UTC}: the backup of /usr/local/bin/k3s is missing\n$`));
            // Loud everywhere: the unit failed, the node still runs the change, the API has the node's own report.
            expect((await lab.inNodeAsync(CANARY, "systemctl is-failed oceanid-revert-k3s.service")).out.trim()).toBe("failed");
            expect(lab.installedVersion(CANARY)).toBe(canaryBroken);
            const view = await nodeView(lab, CANARY);
            expect(view.condition).toEqual({
                status: "True",
                reason: "RevertFailed",
                message: expect.stringMatching(new RegExp(`^k3s change ${armed.id}: revert failed at ${UTC}: the backup of /usr/local/bin/k3s is missing$`)),
            });
            const stackFile = writeLabStackFile(lab, canaryBroken);
            const health = spawnSync(
                process.execPath,
                [join(ROOT, "components", "health", "oceanid-health.cjs"), "--config-file", stackFile, "--kubeconfig", lab.kubeconfigPath, "--node", CANARY],
                {
                    encoding: "utf8",
                },
            );
            expect(health.status).toBe(1);
            expect(health.stdout).toContain(`${CANARY}: node change failed to revert: ${view.condition!.message}; see docs/runbooks/node-changes.md`);

            // The operator's next run is refused before anything changes, with the way out.
            const again = await rollout(lab, labConfig(lab, { srv712429: server, srv712695: before, calypso: lab.installedVersion("calypso")! }), {
                state,
                replace: [`${CANARY}-k3s-change-preflight`],
            });
            expect(ran(again)).toEqual(stepNames(CANARY, ["preflight"]));
            expect(line(again)).toBe(
                `PREFLIGHT FAILED node=${CANARY} reason=the revert of the k3s change ${armed.id} failed at ${new Date(failed.at * 1000).toISOString().replace(/\.\d+Z$/, "Z")}: the backup of /usr/local/bin/k3s is missing; ` +
                    "the node may still run the change: put it right by hand (docs/runbooks/node-changes.md), then record that with: sudo /var/lib/oceanid/changes/k3s/revert.sh --resolved",
            );
            // The runbook: put the previous release back by hand, record it, run the change again.
            const fix = await lab.inNodeAsync(
                CANARY,
                `curl -sfL ${lab.installScriptUrl} | INSTALL_K3S_VERSION=${before} INSTALL_K3S_EXEC=agent K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=/etc/rancher/k3s/oceanid-token sh -`,
            );
            expect(fix.code, fix.out).toBe(0);
            expect((await lab.inNodeAsync(CANARY, "/var/lib/oceanid/changes/k3s/revert.sh --resolved")).out).toMatch(
                new RegExp(`the k3s change ${armed.id} was resolved by hand\n$`),
            );
            expect(changeState(lab, CANARY)).toMatchObject({ state: "reverted", reason: "resolved by hand" });
            const done = await rollout(lab, labConfig(lab, { srv712429: server, srv712695: before, calypso: lab.installedVersion("calypso")! }), {
                state,
                replace: [`${CANARY}-k3s-change-preflight`],
            });
            expect(done.error).toBeUndefined();
            expect(await nodeView(lab, CANARY)).toMatchObject({ ready: "True", kubelet: before, unschedulable: false });
        },
    );
});
