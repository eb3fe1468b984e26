import * as pulumi from "@pulumi/pulumi";
import type { NodeChangeSettings, NodeConfig } from "../config/stack-config";
import { sshAddress } from "../config/stack-config";
import { gateCommand } from "../health/gate-command";
import { NodeChange } from "./node-change";
import { k3sChangeSpec, type K3sChange } from "./scripts/k3s-scripts";

/** Secrets a node change needs; each reaches the node or the gate only on stdin. */
export interface NodeAccessSecrets {
    sshPrivateKey: pulumi.Input<string>;
    k3sToken: pulumi.Input<string>;
    kubeconfig: pulumi.Input<string>;
}

export interface K3sAgentArgs {
    node: NodeConfig;
    /** The server node: agents are checked against its version. */
    server: NodeConfig;
    /** `K3S_URL` (see `serverUrl` in the stack config). */
    serverUrl: string;
    settings: NodeChangeSettings;
    secrets: NodeAccessSecrets;
    /** kubeconfig context the gate uses. @default the kubeconfig's current context */
    context?: string;
    /** The previous node's change, which must be confirmed first. @default none */
    after?: pulumi.Resource;
}

/** The plain description of one node's k3s change, from validated config. */
export function k3sChange(args: Pick<K3sAgentArgs, "node" | "server" | "serverUrl" | "settings">): K3sChange {
    const { node, server, settings } = args;
    return {
        node: node.name,
        role: node.role,
        version: node.k3sVersion,
        serverVersion: server.k3sVersion,
        serverUrl: args.serverUrl,
        installScriptUrl: settings.installScriptUrl,
        minFreeDiskMiB: settings.minFreeDiskMiB,
        minAvailableMemoryMiB: settings.minAvailableMemoryMiB,
        outOfBand: node.outOfBand !== undefined ? { how: node.outOfBand } : { unsafeNoOutOfBandBecause: node.unsafeNoOutOfBand! },
    };
}

/**
 * k3s on one node (the agent, or the server's own k3s), installed or upgraded
 * to the configured version as one gated, self-reverting node change.
 */
export class K3sAgent extends pulumi.ComponentResource {
    /** Confirmed once the node runs the target version and is healthy. */
    readonly confirmed: pulumi.Resource;

    constructor(name: string, args: K3sAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:K3sAgent", name, {}, opts);
        const { node, settings } = args;
        if (node.unsafeNoOutOfBand !== undefined) {
            void pulumi.log.warn(`${node.name} is changed over SSH with no out-of-band access (unsafeNoOutOfBand: ${node.unsafeNoOutOfBand})`, this);
        }
        const host = sshAddress(node);
        const change = new NodeChange(
            `${name}-change`,
            {
                spec: k3sChangeSpec(k3sChange(args)),
                connection: { host, port: node.ssh.port, user: node.ssh.user, hostKey: node.ssh.hostKey, privateKey: args.secrets.sshPrivateKey },
                settings,
                stdin: args.secrets.k3sToken,
                gateCommand: (since) =>
                    gateCommand({
                        node: node.name,
                        version: node.k3sVersion,
                        sshHost: host,
                        sshPort: node.ssh.port,
                        hostKey: node.ssh.hostKey,
                        since,
                        timeoutSeconds: settings.gateTimeoutSeconds,
                        ...(args.context === undefined ? {} : { context: args.context }),
                    }),
                gateStdin: args.secrets.kubeconfig,
                triggers: [node.k3sVersion],
                ...(args.after === undefined ? {} : { after: args.after }),
            },
            { parent: this },
        );
        this.confirmed = change.confirmed;
        this.registerOutputs({});
    }
}
