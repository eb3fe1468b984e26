import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandPluginDir } from "../../components/platform/command-plugin";

/** The secret keys a stack with node access sets (values come from the test). */
export const NODE_ACCESS_SECRETS = ["sshPrivateKey", "k3sToken", "kubeconfig", "tailscaleAuthKey"] as const;

/** Test-only values for those secrets, as the mock runtime hands them to the program. */
export const NODE_ACCESS_TEST_SECRETS = {
    "oceanid:sshPrivateKey": "test-only-ssh-private-key-material",
    "oceanid:k3sToken": `K10${"ab".repeat(32)}::server:test-only-token-value`,
    "oceanid:kubeconfig": "apiVersion: v1\nkind: Config\n# test-only-kubeconfig",
    "oceanid:tailscaleAuthKey": "test-only-auth-key",
};

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
