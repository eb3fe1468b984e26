// Preflight over real SSH: what it refuses, before any change, with the node
// named. Skew against the server, thresholds, and a token for another server.
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { labConfig, LAB_NODES, rollout } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns"]);

let lab: NodeLab;

beforeAll(async () => {
    lab = await NodeLab.start({
        nodes: [
            { ...LAB_NODES[0], version: "v1.33.4+k3s1" },
            { ...LAB_NODES[1], version: "v1.33.4+k3s1" },
            { ...LAB_NODES[2], version: "v1.31.2+k3s1" },
        ],
        subnet: 3,
    });
});
afterAll(async () => {
    await lab?.stop();
});

const lastStep = (run: Awaited<ReturnType<typeof rollout>>) => run.steps.at(-1) as { name: string; code: number; stderr: string };
const failure = (run: Awaited<ReturnType<typeof rollout>>) => lastStep(run).stderr.trim().split("\n").at(-1);
const state = () => LAB_NODES.map((n) => [lab.installedVersion(n.name), lab.installs(n.name).length]);

suite("preflight", () => {
    it("refuses a node without the disk the upgrade needs, before any change", async () => {
        const before = state();
        const config = labConfig(lab, "v1.33.5+k3s1");
        (config["oceanid:nodeChanges"] as Record<string, unknown>).minFreeDiskMiB = 1 << 30;
        const run = await rollout(lab, config);
        expect(lastStep(run).name).toBe("srv712429-k3s-change-preflight");
        expect(failure(run)).toMatch(
            /^PREFLIGHT FAILED node=srv712429 reason=only \d+ MiB free under \/var\/lib\/rancher; the upgrade needs 1073741824 MiB \(nodeChanges\.minFreeDiskMiB\)$/,
        );
        expect(state()).toEqual(before);
    });

    it("refuses a token that pins another server's CA", async () => {
        const before = state();
        const token = `K10${"0".repeat(64)}::server:another-cluster`;
        const run = await rollout(lab, labConfig(lab, "v1.33.5+k3s1"), { "oceanid:k3sToken": token });
        expect(JSON.stringify(run.steps) + run.output).not.toContain("another-cluster");
        expect(lastStep(run).name).toBe("srv712429-k3s-change-preflight");
        expect(failure(run)).toMatch(
            new RegExp(
                `^PREFLIGHT FAILED node=srv712429 reason=the CA of ${lab.serverUrl.replace(/\./g, "\\.")} \\(sha256 [0-9a-f]{64}\\) is not the one the k3s token pins \\(0{64}\\): wrong server or wrong token$`,
            ),
        );
        expect(state()).toEqual(before);
    });

    it("refuses an agent two minor releases behind the server, after the server and canary are done, leaving it untouched", async () => {
        const run = await rollout(lab, labConfig(lab, "v1.33.5+k3s1"));
        expect(lastStep(run).name).toBe("calypso-k3s-change-preflight");
        expect(failure(run)).toBe(
            "PREFLIGHT FAILED node=calypso reason=runs v1.31.2+k3s1, more than one minor release behind the server's v1.33.5+k3s1; upgrade it one minor release at a time",
        );
        expect(run.error).toBe("calypso-k3s-change-preflight: exit 1");
        expect(state()).toEqual([
            ["v1.33.5+k3s1", 2],
            ["v1.33.5+k3s1", 2],
            ["v1.31.2+k3s1", 1],
        ]);
    });

    it("refuses an agent newer than the server", async () => {
        // Someone upgraded calypso by hand, past the server.
        const installer = lab.installScriptUrl.replace(/^file:\/\//, "");
        const manual = lab.inNode(
            "calypso",
            `set -a; . /etc/systemd/system/k3s-agent.service.env; set +a; INSTALL_K3S_VERSION=v1.34.1+k3s1 INSTALL_K3S_EXEC=agent sh ${installer}`,
        );
        expect(manual.code).toBe(0);
        const run = await rollout(lab, labConfig(lab, "v1.33.5+k3s1"));
        expect(failure(run)).toBe(
            "PREFLIGHT FAILED node=calypso reason=runs v1.34.1+k3s1, newer than the server's v1.33.5+k3s1; agents must not be newer than the server",
        );
        expect(lab.installedVersion("calypso")).toBe("v1.34.1+k3s1");
    });
});
