// Preflight on real-systemd machines: what a change refuses before it touches anything, with the
// node named. On the node: disk for k3s and for the backup, a token for another server, k3s's
// one-minor-at-a-time rule. In the API server (the drain step): an agent is held to the version
// the server RUNS, as the API server reports it, not the one the stack says it should run.
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { labConfig, LAB_NODES, lastStep, newState, nodeView, ran, rollout, stepNames } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver"]);

let lab: NodeLab;

beforeAll(async () => {
    lab = await NodeLab.start({
        nodes: [
            { ...LAB_NODES[0], version: "v1.33.4+k3s1" },
            { ...LAB_NODES[1], version: "v1.33.4+k3s1" },
            { ...LAB_NODES[2], version: "v1.31.2+k3s1", oceanidDiskMiB: 4 },
        ],
        subnet: 3,
    });
});
afterAll(async () => {
    await lab?.stop();
});

const state = () => LAB_NODES.map((n) => [lab.installedVersion(n.name), lab.installs(n.name).length]);
const server = "srv712429";

suite("preflight", () => {
    it("refuses a node without the disk k3s needs, before any change", async () => {
        const before = state();
        const config = labConfig(lab, "v1.33.5+k3s1", { nodeChanges: { minFreeDiskMiB: 1 << 30 } });
        const run = await rollout(lab, config, { state: newState(lab) });
        expect(ran(run)).toEqual(stepNames(server, ["preflight"]));
        expect(lastStep(run).line).toMatch(
            /^PREFLIGHT FAILED node=srv712429 reason=only \d+ MiB free under \/var\/lib\/rancher; the upgrade needs 1073741824 MiB \(nodeChanges\.minFreeDiskMiB\)$/,
        );
        expect(state()).toEqual(before);
    });

    it("refuses a token that pins another server's CA, and never prints the token", async () => {
        const before = state();
        const token = `K10${"0".repeat(64)}::server:another-cluster`;
        const run = await rollout(lab, labConfig(lab, "v1.33.5+k3s1"), { secrets: { "oceanid:k3sToken": token }, state: newState(lab) });
        expect(JSON.stringify(run.steps) + run.output).not.toContain("another-cluster");
        expect(ran(run)).toEqual(stepNames(server, ["preflight"]));
        expect(lastStep(run).line).toMatch(
            new RegExp(
                `^PREFLIGHT FAILED node=srv712429 reason=the CA of ${lab.serverUrl.replace(/\./g, "\\.")} \\(sha256 [0-9a-f]{64}\\) is not the one the k3s token pins \\(0{64}\\): wrong server or wrong token$`,
            ),
        );
        expect(state()).toEqual(before);
    });

    it("refuses an agent whose /var/lib/oceanid cannot hold the backup, naming both sizes, before any change to it", async () => {
        // calypso's own 4 MiB disk: smaller than the k3s binary it would have to back up.
        const run = await rollout(lab, labConfig(lab, { srv712429: "v1.33.4+k3s1", srv712695: "v1.33.4+k3s1", calypso: "v1.32.0+k3s1" }), {
            state: newState(lab),
        });
        expect(lastStep(run).name).toBe("calypso-k3s-change-preflight");
        const m =
            /^PREFLIGHT FAILED node=calypso reason=only (\d+) MiB free under \/var\/lib\/oceanid\/changes\/k3s for the backup; it needs (\d+) MiB: free space on that filesystem$/.exec(
                lastStep(run).line,
            );
        expect(m, lastStep(run).line).not.toBeNull();
        expect(Number(m![1])).toBeLessThan(Number(m![2]));
        expect(lab.installedVersion("calypso")).toBe("v1.31.2+k3s1");
        lab.setOceanidDiskMiB("calypso", 64);
    });

    it("refuses an agent two minor releases behind its target, on the node, leaving it untouched", async () => {
        const before = state();
        const run = await rollout(lab, labConfig(lab, { srv712429: "v1.33.4+k3s1", srv712695: "v1.33.4+k3s1", calypso: "v1.33.4+k3s1" }), {
            state: newState(lab),
        });
        expect(lastStep(run).name).toBe("calypso-k3s-change-preflight");
        expect(lastStep(run).line).toBe(
            "PREFLIGHT FAILED node=calypso reason=runs v1.31.2+k3s1, more than one minor release behind the target v1.33.4+k3s1; upgrade it one minor release at a time",
        );
        expect(state()).toEqual(before);
    });

    it("holds an agent to the version the server runs as the API server reports it, not the one the stack says", async () => {
        // The stack has the server at v1.33.6 and kept its chain from an earlier run; since then
        // someone put v1.33.4 back on the server by hand. The stack's word is stale; the API's is not.
        const stack = newState(lab);
        const target = { srv712429: "v1.33.6+k3s1", srv712695: "v1.33.4+k3s1", calypso: "v1.32.0+k3s1" };
        const first = await rollout(lab, labConfig(lab, target), { state: stack });
        expect(first.error).toBeUndefined();
        expect(ran(first).slice(0, 6)).toEqual(stepNames(server));
        expect(lab.installedVersion(server)).toBe("v1.33.6+k3s1");
        const down = await lab.inNodeAsync(
            server,
            `curl -sfL ${lab.installScriptUrl} | INSTALL_K3S_VERSION=v1.33.4+k3s1 INSTALL_K3S_EXEC=server K3S_TOKEN_FILE=/etc/rancher/k3s/token sh -`,
        );
        expect(down.code, down.out).toBe(0);
        await lab.waitHealthy([server], Date.now(), 60_000);
        expect((await nodeView(lab, server)).kubelet).toBe("v1.33.4+k3s1");
        // The canary's target moves to v1.33.5: the server's chain is kept (nothing changed for
        // it), and the canary's drain step asks the API first.
        const again = await rollout(lab, labConfig(lab, { ...target, srv712695: "v1.33.5+k3s1" }), { state: stack });
        expect(ran(again).some((s) => s.startsWith(server))).toBe(false);
        expect(lastStep(again).name).toBe("srv712695-k3s-change-drain");
        expect(lastStep(again).line).toBe(
            "PREFLIGHT FAILED node=srv712695 reason=the server srv712429 runs v1.33.4+k3s1 (as the API server reports it); agents must not be newer than the server: upgrade the server first",
        );
        // Refused before any cordon.
        expect(await nodeView(lab, "srv712695")).toMatchObject({ unschedulable: false });
        expect(lab.installedVersion("srv712695")).toBe("v1.33.4+k3s1");
    });
});
