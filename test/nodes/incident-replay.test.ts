// The exit node as code, and 2025-10-13 replayed, on the node lab with the real thing wherever it can
// be had: Debian machines with real systemd in a routed topology (each node behind a router, as styx
// and calypso reach tethys's public address), the real control plane, headscale as the tailnet's
// control server, and the real kernel-mode tailscaled, which the node change installs from the lab's
// copy of Tailscale's static release. Only k3s is a stand-in (test/lab/README.md).
//
// 1. The program's own exit node change on the server: gated on the control server seeing the node
//    online, holding egress.exitNode, its exit routes approved by the policy the program builds.
// 2. The incident: the workers' host-level settings (use the exit node, LAN access allowed) applied to
//    the canary through the same chain, the config check bypassed (test/nodes/incident-program.ts).
//    The canary loses the API server and SSH, the gate fails naming it, the other agent is untouched,
//    and the canary's revert gives it back with no SSH; once more with a power cycle before the deadline.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TAILNET_DEFAULTS, withGatewayAccess } from "../../components/network/tailnet-policy";
import { NodeLab } from "../lab/node-lab";
import { describeNeeding } from "../helpers/needs";
import { ROOT } from "../helpers/stack-file";
import { changeState, labConfig, LAB_NODES, LAB_TIMINGS, lastStep, newState, nodeView, ran, rollout, until } from "./lab-stack";
import type { ReplayConfig } from "./incident-program";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver", "headscale", "tailscaled", "derper"]);

const VERSION = "v1.33.5+k3s1";
const [SERVER, CANARY, OTHER] = LAB_NODES.map((n) => n.name);
/** headscale allocates sequentially: the first machine to join (the exit node) gets the first address. */
const EXIT_IP = "100.64.0.1";
const PROGRAM = join(ROOT, "test", "nodes", "incident-program.ts");
const exitSteps = (steps: string[]) => steps.map((s) => `${SERVER}-exit-node-tailscale-change-${s}`);

let lab: NodeLab;
let state: string;
let apiKey: string;
const timeline: string[] = [];

// The tailnet policy the program merges for the gateway (TailnetAccess): its tag owners and the exit
// node's auto-approval, as headscale reads them (headscale's users end in "@"; it has no grants).
const gatewayPolicy = withGatewayAccess({}, { ...TAILNET_DEFAULTS, tagOwners: ["lab@"] });
const POLICY = {
    tagOwners: gatewayPolicy.tagOwners,
    autoApprovers: gatewayPolicy.autoApprovers,
    acls: [{ action: "accept", src: ["*"], dst: ["*:*"] }],
};

beforeAll(async () => {
    lab = await NodeLab.start({
        nodes: LAB_NODES.map((n) => ({ ...n, version: VERSION })),
        subnet: 10,
        topology: "routed",
        tailnet: true,
        tailnetPolicy: POLICY,
    });
    state = newState(lab);
    const run = await rollout(lab, labConfig(lab, VERSION), { state });
    if (run.error) throw new Error(`priming the stack failed: ${run.error}\n${run.output}`);
    apiKey = await lab.headscaleApiKey();
}, 300_000);
afterAll(async () => {
    console.log(`incident replay timeline (seconds after the change was armed):\n${timeline.join("\n")}`);
    await lab?.stop();
});

/** The stack with the exit node managed: the server is egress.exitNode. */
function exitNodeStack(release = lab.tailscaleRelease): Record<string, unknown> {
    const base = labConfig(lab, VERSION);
    return {
        ...base,
        "oceanid:nodes": (base["oceanid:nodes"] as Array<{ name: string; addresses: object }>).map((n) =>
            n.name === SERVER ? { ...n, addresses: { ...n.addresses, tailscale: EXIT_IP } } : n,
        ),
        "oceanid:egress": { exitNode: EXIT_IP, namespaces: [] },
        "oceanid:exitNodeHost": {
            release: { version: release.version, url: release.url, sha256: release.sha256 },
            loginServer: lab.headscaleUrl,
            controlApi: { kind: "headscale", url: lab.headscaleUrl },
        },
        "oceanid:exitNodeAuthKey": { secure: "lab" },
        "oceanid:tailscaleApiKey": { secure: "lab" },
        "oceanid:tailscaleAuthKey": { secure: "lab" },
    };
}

/** The machine as headscale's API answers the gate (GET /api/v1/node), online; undefined while it is not. */
async function headscaleNode(name: string): Promise<Record<string, any> | undefined> {
    const res = await fetch(`${lab.headscaleUrl}/api/v1/node`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(5000) });
    const { nodes } = (await res.json()) as { nodes: Array<Record<string, any>> };
    return nodes.filter((n) => n.name === name && n.online === true).at(-1);
}
const tailscaleGone = (node: string) => {
    const left = lab.tailscaleLeftovers(node);
    return { ...left, chains: left.chains.filter((c) => !c.startsWith("nft ")) };
};
const NOTHING_LEFT = { tailscale0: false, ipRules: [], table52Routes: [], chains: [], varLibTailscale: false, tailscaledPids: [] };

/** When the revert of change `id` started on the canary, from the change's history (one line per transition). */
function revertStarted(id: string): number {
    const history = readFileSync(lab.nodePath(CANARY, "/var/lib/oceanid/changes/tailscale/history"), "utf8");
    const line = history.split("\n").find((l) => l.split(" ")[1] === "reverting" && l.split(" ")[2] === id);
    if (line === undefined) throw new Error(`no revert of ${id} in the history:\n${history}`);
    return Number(line.split(" ")[0]);
}

suite("the exit node as code, and the incident replayed", () => {
    it("the exit node change: installed from the pinned release, advertising exit routes, gated on the control server, confirmed", async () => {
        const key = await lab.preAuthKey({ tags: [TAILNET_DEFAULTS.exitNodeTag] });
        const run = await rollout(lab, exitNodeStack(), { state, secrets: { "oceanid:exitNodeAuthKey": key, "oceanid:tailscaleApiKey": apiKey } });
        expect(run.error, run.output).toBeUndefined();
        expect(ran(run)).toEqual(exitSteps(["preflight", "drain", "apply", "gate", "confirm", "uncordon"]));
        const gate = run.steps.find((s) => s.name === exitSteps(["gate"])[0]) as { stdout: string };
        expect(gate.stdout).toMatch(new RegExp(`^GATE PASSED node=${SERVER} version=${VERSION.replace("+", "\\+")} healthy for [5-9]s after \\d+s$`, "m"));
        // The control server: online, the configured address, both exit routes approved by the policy's autoApprovers.
        const node = (await headscaleNode(SERVER))!;
        expect(node.ipAddresses).toContain(EXIT_IP);
        expect([...node.approvedRoutes].sort()).toEqual(["0.0.0.0/0", "::/0"]);
        expect([...(node.forcedTags ?? []), ...(node.validTags ?? []), ...(node.tags ?? [])]).toContain(TAILNET_DEFAULTS.exitNodeTag);
        // The host: forwarding on, tailscaled enabled and running, no log upload, the revert disarmed.
        expect(
            (await lab.inNodeAsync(SERVER, "sysctl -n net.ipv4.ip_forward; systemctl is-enabled tailscaled; systemctl is-active tailscaled")).out
                .trim()
                .split("\n"),
        ).toEqual(["1", "enabled", "active"]);
        expect(readFileSync(lab.nodePath(SERVER, "/etc/default/tailscaled"), "utf8")).toContain("TS_NO_LOGS_NO_SUPPORT=true");
        expect(changeState(lab, SERVER, "tailscale")?.state).toBe("confirmed");
        expect(lab.tailscaleLeftovers(SERVER).tailscale0).toBe(true);
        // Nothing of Tailscale on the agents; they stayed Ready.
        for (const agent of [CANARY, OTHER]) {
            expect(tailscaleGone(agent)).toEqual(NOTHING_LEFT);
            expect((await nodeView(lab, agent)).ready).toBe("True");
        }
        // A second `up` with nothing changed runs nothing.
        const again = await rollout(lab, exitNodeStack(), { state, secrets: { "oceanid:exitNodeAuthKey": key, "oceanid:tailscaleApiKey": apiKey } });
        expect(again.error, again.output).toBeUndefined();
        expect(ran(again)).toEqual([]);
    });

    it("a release whose checksum is not the pinned one: apply refuses it and reverts at once; the exit node keeps running", async () => {
        const key = await lab.preAuthKey({ tags: [TAILNET_DEFAULTS.exitNodeTag] });
        const pinned = "0".repeat(64);
        // A new version (the same version is already installed and is not fetched again) pinned to another checksum.
        const run = await rollout(lab, exitNodeStack({ ...lab.tailscaleRelease, version: "1.102.4", sha256: pinned }), {
            state,
            secrets: { "oceanid:exitNodeAuthKey": key, "oceanid:tailscaleApiKey": apiKey },
        });
        expect(ran(run)).toEqual(exitSteps(["preflight", "drain", "apply"]));
        expect(lastStep(run).line).toBe(
            `APPLY FAILED node=${SERVER} reason=the Tailscale release from ${lab.tailscaleRelease.url} has sha256 ${lab.tailscaleRelease.sha256}, not the pinned ${pinned}; reverted: ${SERVER} is back to its state before the change`,
        );
        expect(changeState(lab, SERVER, "tailscale")?.state).toBe("reverted");
        // Back as it was: tailscaled running on its old state, the same address, routes approved.
        await until("the exit node online again", async () => (await headscaleNode(SERVER))?.ipAddresses?.includes(EXIT_IP) === true, 20);
        expect((await lab.inNodeAsync(SERVER, "systemctl is-active tailscaled; sysctl -n net.ipv4.ip_forward")).out.trim().split("\n")).toEqual([
            "active",
            "1",
        ]);
        await lab.kubectl(["uncordon", SERVER]);
    });

    /** The incident's settings on the canary through the chain; what the test watched, in seconds after arming. */
    async function replay(powerCycle: boolean): Promise<void> {
        const key = await lab.preAuthKey();
        const replayConfig: ReplayConfig = {
            node: {
                name: CANARY,
                role: "agent",
                canary: true,
                k3sVersion: VERSION,
                addresses: { lan: lab.node(CANARY).address },
                ssh: { user: "root", port: 22, hostKey: lab.node(CANARY).hostKey },
                labels: {},
                taints: [],
                outOfBand: "lab host: nsenter",
            },
            change: {
                release: lab.tailscaleRelease,
                loginServer: lab.headscaleUrl,
                advertiseExitNode: false,
                tags: [],
                netfilterMode: "on",
                uploadLogs: false,
                // What the DaemonSet's TS_EXTRA_ARGS did to the workers' hosts.
                useExitNode: { address: EXIT_IP, allowLanAccess: true },
                leftoversScript: readFileSync(join(ROOT, "scripts", "recovery", "remove-tailscale-leftovers"), "utf8"),
                apiUrl: lab.serverUrl,
            },
            tailnet: { api: "headscale", url: lab.headscaleUrl, tailnet: "-", hostname: CANARY, exitNode: false },
            settings: {
                ...LAB_TIMINGS,
                drain: true,
                minFreeDiskMiB: 1,
                minAvailableMemoryMiB: 1,
                installScriptUrl: lab.installScriptUrl,
                serverUrl: lab.serverUrl,
            },
        };
        // Watch from outside while the chain runs: SSH to the canary and to the other agent, both Nodes' Ready.
        const seen: Record<string, number> = {};
        const mark = (what: string) => (seen[what] ??= Date.now() / 1000);
        let otherProblems = 0;
        let watching = true;
        const watcher = (async () => {
            while (watching) {
                const [canarySsh, otherSsh, canary, other] = await Promise.all([
                    lab.sshReachable(CANARY, 800),
                    lab.sshReachable(OTHER, 1500),
                    nodeView(lab, CANARY),
                    nodeView(lab, OTHER),
                ]);
                if (!canarySsh) mark("ssh lost");
                if (canary.ready !== "True") mark("NotReady");
                if (!otherSsh || other.ready !== "True") otherProblems++;
                await new Promise((r) => setTimeout(r, 250));
            }
        })();
        try {
            const run = await rollout(
                lab,
                {
                    ...labConfig(lab, VERSION),
                    "oceanid:replay": replayConfig,
                    "oceanid:exitNodeAuthKey": { secure: "lab" },
                    "oceanid:tailscaleApiKey": { secure: "lab" },
                },
                { state: newState(lab), program: PROGRAM, secrets: { "oceanid:exitNodeAuthKey": key, "oceanid:tailscaleApiKey": apiKey } },
            );
            mark("gate failed");
            expect(ran(run)).toEqual(["preflight", "drain", "apply", "gate"].map((s) => `${CANARY}-incident-change-${s}`));
            // Named, with what the gate saw: the kubelet silent (Ready Unknown, the Lease stale) and SSH gone.
            const address = lab.node(CANARY).address.replace(/\./g, "\\.");
            expect(lastStep(run).line).toMatch(
                new RegExp(
                    `^GATE FAILED node=${CANARY} reason=Ready is Unknown \\(NodeStatusUnknown: Kubelet stopped posting node status\\.\\); ` +
                        `Lease not renewed for \\d+s \\(limit ${LAB_TIMINGS.maxLeaseAgeSeconds}s\\); ssh ${address}:22 unreachable \\(timed out after [\\d.]+s\\); ` +
                        `${CANARY} reverts by itself unless confirmed; to run the change again once it has: pulumi up --replace '[^']*::${CANARY}-incident-change-preflight'$`,
                ),
            );
            const armed = changeState(lab, CANARY, "tailscale")!;
            expect(armed.state).toBe("armed");
            // Cut off: no SSH, and its kubelet no longer reaches the API server (Ready Unknown).
            expect(seen["ssh lost"]).toBeDefined();
            expect(seen.NotReady).toBeDefined();
            expect(await lab.sshReachable(CANARY, 1000)).toBe(false);
            if (powerCycle) {
                // The operator power-cycles the node through its provider before the deadline.
                await lab.powerOff(CANARY);
                mark("power off");
                await lab.powerOn(CANARY);
                mark("power on");
                expect(Date.now() / 1000).toBeLessThan(armed.deadline - 2);
                expect(changeState(lab, CANARY, "tailscale")).toMatchObject({ state: "armed", id: armed.id });
                // tailscaled is enabled and keeps its preferences: the node is captured again at boot.
                await until("tailscaled back after the boot", () => lab.tailscaleLeftovers(CANARY).tailscale0, 20);
                await until("the canary cut off again", async () => !(await lab.sshReachable(CANARY, 800)), 20);
                mark("cut off again");
            }
            // The revert, by the node's own timer, with no SSH and no network.
            await until("the revert", () => changeState(lab, CANARY, "tailscale")?.state === "reverted", armed.deadline - Date.now() / 1000 + 20);
            const reverted = changeState(lab, CANARY, "tailscale")!;
            // Started by the timer at the deadline (AccuracySec=1s); stopping tailscaled and restoring take seconds more.
            const started = revertStarted(armed.id);
            expect(started).toBeGreaterThanOrEqual(armed.deadline);
            expect(started).toBeLessThanOrEqual(armed.deadline + 2);
            expect(reverted.at - started).toBeLessThanOrEqual(10);
            await until("SSH to the canary again", () => lab.sshReachable(CANARY, 800), 20);
            mark("ssh back");
            await until("the canary Ready again", async () => (await nodeView(lab, CANARY)).ready === "True", 30);
            mark("Ready again");
            // Nothing of Tailscale is left on it; the revert's log says so.
            expect(tailscaleGone(CANARY)).toEqual(NOTHING_LEFT);
            expect(
                (
                    await lab.inNodeAsync(
                        CANARY,
                        "for f in /usr/sbin/tailscaled /usr/bin/tailscale /etc/systemd/system/tailscaled.service; do test -e $f; echo $?; done",
                    )
                ).out
                    .trim()
                    .split("\n"),
            ).toEqual(["1", "1", "1"]);
            // The state says reverted a moment before the revert disarms its units and logs its last line.
            const log = lab.nodePath(CANARY, "/var/lib/oceanid/changes/tailscale/revert.log");
            await until("the revert's last line", () => /\nrevert finished at \S+\n/.test(readFileSync(log, "utf8")), 15);
            expect(otherProblems).toBe(0);
            const at = (what: string) => (seen[what] === undefined ? "never" : `+${(seen[what] - armed.armedAt).toFixed(1)}s`);
            timeline.push(
                `${powerCycle ? "with a power cycle" : "plain"}: SSH lost ${at("ssh lost")}, NotReady ${at("NotReady")}, gate failed ${at("gate failed")}` +
                    (powerCycle ? `, power off ${at("power off")}, on ${at("power on")}, cut off again ${at("cut off again")}` : "") +
                    `, revert started +${started - armed.armedAt}s (deadline +${armed.deadline - armed.armedAt}s), done +${reverted.at - armed.armedAt}s, SSH back ${at("ssh back")}, Ready ${at("Ready again")}; ${OTHER}: Ready and reachable throughout`,
            );
        } finally {
            watching = false;
            await watcher;
        }
        // The drain's cordon stays, marked as the change's, for oceanid-health to report; the operator lifts it.
        expect(await nodeView(lab, CANARY)).toMatchObject({ unschedulable: true, cordonedBy: "node-change/tailscale" });
        await lab.kubectl(["uncordon", CANARY]);
    }

    it("the incident on the canary: cut off from the API server and SSH, the gate fails naming it, the other agent untouched, reverted without SSH", async () => {
        await replay(false);
    });

    it("the incident again, the cut-off canary power-cycled before its deadline: the revert still happens", async () => {
        await replay(true);
    });
});
