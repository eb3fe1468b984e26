import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandPluginDir } from "../../components/platform/command-plugin";

/** The secret keys a stack with node access sets (values come from the test). */
export const NODE_ACCESS_SECRETS = ["sshPrivateKey", "k3sToken", "kubeconfig", "tailscaleAuthKey"] as const;

/**
 * Turns a copy of the dev stack's config into one that changes nodes over SSH
 * (nodeAccess "ssh", kubernetes "cluster", the node secrets set): the stack
 * shape operators run `pulumi up` with.
 */
export function withNodeAccess(config: Record<string, unknown>): void {
    config["oceanid:nodeAccess"] = "ssh";
    config["oceanid:kubernetes"] = { mode: "cluster" };
    for (const name of NODE_ACCESS_SECRETS) config[`oceanid:${name}`] = { secure: "set by the test" };
}

/**
 * A PULUMI_HOME in which the command provider plugin 1.2.1 counts as
 * installed (the program checks for its directory before any node change).
 */
export function pulumiHomeWithCommandPlugin(): string {
    const home = mkdtempSync(join(tmpdir(), "oceanid-pulumi-home-"));
    mkdirSync(commandPluginDir(home), { recursive: true });
    return home;
}
