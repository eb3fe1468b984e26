// Node changes over real SSH: the program's commands, captured under the mock
// runtime and run by the test executor against sshd test hosts in network
// namespaces (test/lab). The happy path, idempotence, a refused host key, and
// where the secrets go.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { labConfig, LAB_NODES, rollout, secretValues } from "./lab-stack";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns"]);

const OLD = "v1.33.4+k3s1";
const NEW = "v1.33.5+k3s1";
const STEPS = ["preflight", "arm", "apply", "gate", "confirm"];

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
    it("refuses a node whose host key is not the pinned one before anything changes anywhere", async () => {
        const before = nodeState();
        // The server's pin is another node's key: the first step cannot even connect.
        const config = labConfig(lab, NEW, { hostKeys: { srv712429: lab.node("calypso").hostKey } });
        const run = await rollout(lab, config);
        expect(run.steps.map((s) => s.name)).toEqual(["srv712429-k3s-change-preflight"]);
        expect(run.error).toMatch(/^srv712429-k3s-change-preflight: cannot connect to 10\.198\.1\.1:22: .*verification failed/i);
        expect(nodeState()).toEqual(before);
    });

    it("upgrades the server, then the canary, then the other agent, each confirmed before the next starts", async () => {
        const { result: run, seen } = await watchingProcesses(rollout(lab, labConfig(lab, NEW)));
        expect(run.error).toBeUndefined();
        const names = run.steps.map((s) => s.name);
        expect(names).toEqual(LAB_NODES.flatMap((n) => STEPS.map((s) => `${n.name}-k3s-change-${s}`)));
        const steps = run.steps as Array<{ name: string; startedAt: number; endedAt: number; code: number; stdout: string }>;
        for (let i = 1; i < steps.length; i++) expect(steps[i].startedAt).toBeGreaterThanOrEqual(steps[i - 1].endedAt);
        expect(steps.every((s) => s.code === 0)).toBe(true);
        for (const n of LAB_NODES) {
            expect(lab.installedVersion(n.name)).toBe(NEW);
            expect(lab.installs(n.name).at(-1)).toMatch(new RegExp(`^\\d+ ${NEW.replace("+", "\\+")} (agent|server)`));
            expect(existsSync(lab.nodePath(n.name, "/var/lib/oceanid/changes/k3s/confirmed-at"))).toBe(true);
            expect(existsSync(lab.nodePath(n.name, "/var/lib/oceanid/changes/k3s/armed-at"))).toBe(false);
            const step = (s: string) => steps.find((x) => x.name === `${n.name}-k3s-change-${s}`)!;
            expect(step("apply").stdout.trim()).toMatch(new RegExp(`^applied: ${n.name} now runs ${NEW.replace("+", "\\+")}\napplied-at: \\d+\\.\\d{9}$`));
            expect(step("gate").stdout).toMatch(new RegExp(`GATE PASSED node=${n.name} version=${NEW.replace("+", "\\+")}`));
            expect(step("confirm").stdout.trim()).toBe(`confirmed: k3s on ${n.name}; revert disarmed`);
        }
        // The agents joined with the token from a root-only file, referenced by the unit's environment.
        const env = readFileSync(lab.nodePath("calypso", "/etc/systemd/system/k3s-agent.service.env"), "utf8");
        expect(env).toMatch(/^K3S_TOKEN_FILE=["']?\/etc\/rancher\/k3s\/oceanid-token["']?$/m);
        expect(env).not.toContain(lab.k3sToken);
        // No secret on any command line of the machine while it ran.
        const leaks = [...seen].filter((args) => secretValues(lab).some((s) => args.includes(s)));
        expect(leaks).toEqual([]);
        // Nor in what the steps printed, the run's output, or any lab log (sshd, stand-ins, API).
        const printed = JSON.stringify(run.steps) + run.output + lab.logs();
        for (const secret of secretValues(lab)) expect(printed.includes(secret)).toBe(false);
    });

    it("changes nothing when run again on nodes already at the target", async () => {
        const before = nodeState();
        const run = await rollout(lab, labConfig(lab, NEW));
        expect(run.error).toBeUndefined();
        expect(run.steps).toHaveLength(15);
        for (const n of LAB_NODES) {
            const apply = run.steps.find((s) => s.name === `${n.name}-k3s-change-apply`) as { stdout: string };
            expect(apply.stdout.trim()).toMatch(new RegExp(`^unchanged: ${n.name} already runs ${NEW.replace("+", "\\+")}\napplied-at: \\d+\\.\\d{9}$`));
        }
        // Same versions, no installer run, no service restart.
        expect(nodeState()).toEqual(before);
    });

    it("runs every step through sudo -n for a login other than root, and fails plainly without sudo rights", async () => {
        // A password of "*" (not the locked "!"): sshd without PAM refuses locked accounts.
        for (const n of LAB_NODES) {
            const add = lab.inNode(
                n.name,
                "mkdir -p /var/lib/oceanid-login/.ssh && useradd -M -d /var/lib/oceanid-login -s /bin/bash -p '*' oceanid && " +
                    `cp ${lab.dir}/ssh/authorized_keys /var/lib/oceanid-login/.ssh/ && chown -R oceanid /var/lib/oceanid-login && ` +
                    "echo 'oceanid ALL=(root) NOPASSWD: ALL' >/etc/sudoers.d/oceanid && chmod 440 /etc/sudoers.d/oceanid",
            );
            expect(add.code, add.out).toBe(0);
        }
        const before = nodeState();
        const run = await rollout(lab, labConfig(lab, NEW, { user: "oceanid" }));
        expect(run.error).toBeUndefined();
        expect(run.steps).toHaveLength(15);
        expect(nodeState()).toEqual(before);

        // Without sudo rights the first step stops with sudo's own words, and nothing runs after it.
        expect(lab.inNode("srv712429", "rm /etc/sudoers.d/oceanid").code).toBe(0);
        const refused = await rollout(lab, labConfig(lab, NEW, { user: "oceanid" }));
        expect(refused.steps.map((s) => s.name)).toEqual(["srv712429-k3s-change-preflight"]);
        expect((refused.steps[0] as { stderr: string }).stderr).toContain("sudo: a password is required");
    });
});
