// The stack a node-change test runs: the oceanid topology on the lab's sshd
// test hosts, with time limits short enough for a test.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { NodeLab } from "../lab/node-lab";
import { pulumiHomeWithCommandPlugin } from "../helpers/ssh-stack";
import { executeProgram } from "../helpers/run-executor";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

/** The oceanid nodes, in lab order: the server, the canary, the other agent. */
export const LAB_NODES = [
    { name: "srv712429", role: "server" as const },
    { name: "srv712695", role: "agent" as const },
    { name: "calypso", role: "agent" as const },
];

/** Short enough for a test; the revert still fires only after a change could have been confirmed. */
export const LAB_TIMINGS = { revertAfterSeconds: 36, applyTimeoutSeconds: 10, gateTimeoutSeconds: 15, stepTimeoutSeconds: 10 };

/** `oceanid:*` config for the lab, every node at `version`, logging in as root unless `user` says otherwise. */
export function labConfig(lab: NodeLab, version: string, opts: { hostKeys?: Record<string, string>; user?: string } = {}): Record<string, unknown> {
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
        },
        "oceanid:nodes": LAB_NODES.map((n, i) => ({
            name: n.name,
            role: n.role,
            ...(i === 1 ? { canary: true } : {}),
            k3sVersion: version,
            addresses: { lan: lab.node(n.name).address },
            ssh: { user: opts.user ?? "root", hostKey: opts.hostKeys?.[n.name] ?? lab.node(n.name).hostKey },
            outOfBand: `lab host: ip netns exec ${lab.node(n.name).netns}`,
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
    lab.clientPrivateKey.trim().split("\n").slice(1, -1).join(""),
    ...lab.clientPrivateKey.trim().split("\n").slice(1, -1),
];

const pulumiHome = pulumiHomeWithCommandPlugin();

/** Runs the program over the lab with the command executor (see test/helpers/command-executor.ts). */
export function rollout(lab: NodeLab, config: Record<string, unknown>, secrets: Record<string, string> = {}) {
    return executeProgram(
        { stack: "dev", config, secrets: { ...labSecrets(lab), ...secrets } },
        { PULUMI_HOME: pulumiHome, PATH: `${TOOLS_BIN}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    );
}

/** A stack file holding the lab config, as `oceanid-health --config-file` reads it. */
export function writeLabStackFile(lab: NodeLab, version: string): string {
    const path = join(lab.dir, "Pulumi.lab.yaml");
    writeFileSync(path, stringify({ config: labConfig(lab, version) }));
    return path;
}
