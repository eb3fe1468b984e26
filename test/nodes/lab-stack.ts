// The stack a node-change test runs: the oceanid topology on the node lab's machines, with time
// limits short enough for a test, run by the command executor with the engine's memory between
// runs (steps that succeeded are kept, as `pulumi up` keeps them).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { NodeLab } from "../lab/node-lab";
import { pulumiHomeWithCommandPlugin } from "../helpers/ssh-stack";
import { executeProgram } from "../helpers/run-executor";
import type { ExecutedStep } from "../helpers/command-executor";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

/** The oceanid nodes, in lab order: the server, the canary, the other agent. */
export const LAB_NODES = [
    { name: "srv712429", role: "server" as const },
    { name: "srv712695", role: "agent" as const },
    { name: "calypso", role: "agent" as const },
];

/** The chain's steps, in order, as `<node>-k3s-change-<step>`. */
export const STEPS = ["preflight", "drain", "apply", "gate", "confirm", "uncordon"] as const;
export const stepNames = (node: string, steps: readonly string[] = STEPS) => steps.map((s) => `${node}-k3s-change-${s}`);

/**
 * Short enough for a test (the lab's kubelets renew every second); the revert still fires only
 * after a change could have been confirmed (apply + gate + confirm < revertAfterSeconds).
 */
export const LAB_TIMINGS = {
    revertAfterSeconds: 35,
    applyTimeoutSeconds: 12,
    gateTimeoutSeconds: 12,
    stepTimeoutSeconds: 8,
    settleSeconds: 5,
    maxLeaseAgeSeconds: 3,
    drainTimeoutSeconds: 10,
};

/** `oceanid:*` config for the lab, every node at `version`, logging in as root unless `user` says otherwise. */
export function labConfig(
    lab: NodeLab,
    version: string | Record<string, string>,
    opts: { hostKeys?: Record<string, string>; user?: string; nodeChanges?: Record<string, unknown> } = {},
): Record<string, unknown> {
    const versionOf = (node: string) => (typeof version === "string" ? version : version[node]);
    return {
        "oceanid:nodeAccess": "ssh",
        "oceanid:kubernetes": { mode: "cluster" },
        "oceanid:egress": { enabled: false, exitNode: "auto:any" },
        "oceanid:nodeChanges": {
            ...LAB_TIMINGS,
            minFreeDiskMiB: 1,
            minAvailableMemoryMiB: 1,
            installScriptUrl: lab.installScriptUrl,
            serverUrl: lab.serverUrl,
            ...opts.nodeChanges,
        },
        "oceanid:nodes": LAB_NODES.map((n, i) => ({
            name: n.name,
            role: n.role,
            ...(i === 1 ? { canary: true } : {}),
            k3sVersion: versionOf(n.name),
            addresses: { lan: lab.node(n.name).address },
            ssh: { user: opts.user ?? "root", hostKey: opts.hostKeys?.[n.name] ?? lab.node(n.name).hostKey },
            outOfBand: `lab host: nsenter into the machine of ${lab.node(n.name).netns}`,
        })),
        "oceanid:sshPrivateKey": { secure: "lab" },
        "oceanid:k3sToken": { secure: "lab" },
        "oceanid:kubeconfig": { secure: "lab" },
    };
}

/** The lab's secrets, as `pulumi config set --secret` would hold them. */
export const labSecrets = (lab: NodeLab) => ({
    "oceanid:sshPrivateKey": lab.clientPrivateKey,
    "oceanid:k3sToken": lab.k3sToken,
    "oceanid:kubeconfig": lab.kubeconfig,
});

/** Every secret value the lab hands out, for "appears nowhere" checks. */
export const secretValues = (lab: NodeLab) => [
    lab.k3sToken,
    lab.k3sToken.split("::server:")[1],
    lab.clientPrivateKey.trim().split("\n").slice(1, -1).join(""),
    ...lab.clientPrivateKey.trim().split("\n").slice(1, -1),
    ...lab.kubeconfig
        .split("\n")
        .filter((l) => /client-key-data:/.test(l))
        .map((l) => l.split(":")[1].trim()),
];

const pulumiHome = pulumiHomeWithCommandPlugin();

/**
 * Runs the program over the lab with the command executor (see test/helpers/command-executor.ts).
 * `state` is the engine's memory: give the same path to each run of one stack, as `pulumi up` runs
 * keep their checkpoint; `replace` names steps to replace (`pulumi up --replace`).
 */
export function rollout(
    lab: NodeLab,
    config: Record<string, unknown>,
    opts: {
        secrets?: Record<string, string>;
        state?: string;
        replace?: string[];
        interruptAfter?: string;
        program?: string;
        kubernetes?: { kubeconfig: string; names: string };
    } = {},
) {
    const { secrets, ...engine } = opts;
    return executeProgram(
        { stack: "dev", config, secrets: { ...labSecrets(lab), ...secrets }, ...engine },
        { PULUMI_HOME: pulumiHome, PATH: `${TOOLS_BIN}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    );
}

/** A fresh engine state file for one stack's runs, in the lab dir. */
let stateCount = 0;
export const newState = (lab: NodeLab) => join(lab.dir, `engine-state-${++stateCount}.json`);

/** The step that ended the run (the last one that ran), and its last stderr line. */
export function lastStep(run: { steps: Array<ExecutedStep | { name: string; error: string }> }): {
    name: string;
    code: number | null;
    line: string;
    step: ExecutedStep;
    /** The step never ran its command: the connection or the run failed first. */
    error?: string;
} {
    const step = run.steps.at(-1)!;
    if ("error" in step) return { name: step.name, code: null, line: "", step: step as unknown as ExecutedStep, error: step.error };
    return { name: step.name, code: step.code, line: (step.stderr ?? "").trim().split("\n").at(-1) ?? "", step };
}

/** Names of the steps that ran (not kept from an earlier run). */
export const ran = (run: { steps: Array<ExecutedStep | { name: string; error: string }> }) =>
    run.steps.filter((s) => !("operation" in s) || s.operation !== "same").map((s) => s.name);

/** A stack file holding the lab config, as `oceanid-health --config-file` reads it. */
export function writeLabStackFile(lab: NodeLab, version: string): string {
    const path = join(lab.dir, "Pulumi.lab.yaml");
    writeFileSync(path, stringify({ config: labConfig(lab, version) }));
    return path;
}

/** The node's change state as its state file holds it (see components/nodes/scripts/node-change-scripts.ts). */
export function changeState(
    lab: NodeLab,
    node: string,
    change = "k3s",
): { state: string; id: string; armedAt: number; deadline: number; at: number; reason: string } | undefined {
    let text: string;
    try {
        text = readFileSync(lab.nodePath(node, `/var/lib/oceanid/changes/${change}/state`), "utf8");
    } catch {
        return undefined;
    }
    const [state, id, armedAt, deadline, at, reason] = text.split("\n");
    return { state, id, armedAt: Number(armedAt), deadline: Number(deadline), at: Number(at), reason };
}

/** Polls `check` every 100 ms; throws naming `what` after `seconds`. Resolves with the seconds it took. */
export async function until(what: string, check: () => boolean | Promise<boolean>, seconds: number): Promise<number> {
    const t0 = Date.now();
    while (!(await check())) {
        if (Date.now() - t0 > seconds * 1000) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    return (Date.now() - t0) / 1000;
}

/** The node's OceanidNodeChange condition as the API server holds it, and its spec.unschedulable and cordon annotation. */
export async function nodeView(
    lab: NodeLab,
    node: string,
): Promise<{ condition?: { status: string; reason: string; message: string }; unschedulable: boolean; cordonedBy?: string; ready?: string; kubelet?: string }> {
    const r = await lab.kubectl(["get", "node", node, "-o", "json"]);
    if (r.code !== 0) throw new Error(`kubectl get node ${node}: ${r.stderr}`);
    const n = JSON.parse(r.stdout);
    const c = (n.status?.conditions ?? []).find((x: { type: string }) => x.type === "OceanidNodeChange");
    return {
        ...(c ? { condition: { status: c.status, reason: c.reason, message: c.message } } : {}),
        unschedulable: n.spec?.unschedulable === true,
        ...(n.metadata?.annotations?.["oceanid.io/cordoned-by"] ? { cordonedBy: n.metadata.annotations["oceanid.io/cordoned-by"] } : {}),
        ready: (n.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready")?.status,
        kubelet: n.status?.nodeInfo?.kubeletVersion,
    };
}
