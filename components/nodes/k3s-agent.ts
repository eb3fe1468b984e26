import * as pulumi from "@pulumi/pulumi";
import type { NodeChangeSettings, NodeConfig } from "../config/stack-config";
import { NodeChange, nodeChangeAccess } from "./node-change";
import { k3sChangeSpec, type K3sChange } from "./scripts/k3s-scripts";

/** Secrets a node change needs; each reaches the node or the gate only on stdin. */
export interface NodeAccessSecrets {
    sshPrivateKey: pulumi.Input<string>;
    k3sToken: pulumi.Input<string>;
    kubeconfig: pulumi.Input<string>;
}

export interface K3sAgentArgs {
    node: NodeConfig;
    /** The server node: agents are checked against the version it runs, as the API server reports it. */
    server: NodeConfig;
    /** `K3S_URL` (see `serverUrl` in the stack config). */
    serverUrl: string;
    settings: NodeChangeSettings;
    secrets: NodeAccessSecrets;
    /** kubeconfig context the gate uses. @default the kubeconfig's current context */
    context?: string;
    /** The previous node's change, which must be finished first. @default none */
    after?: pulumi.Resource;
}

/** The plain description of one node's k3s change, from validated config. */
export function k3sChange(args: Pick<K3sAgentArgs, "node" | "serverUrl" | "settings">): K3sChange {
    const { node, settings } = args;
    return {
        node: node.name,
        role: node.role,
        version: node.k3sVersion,
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
    readonly confirmed: pulumi.CustomResource;

    constructor(name: string, args: K3sAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:K3sAgent", name, {}, opts);
        const { node, settings } = args;
        if (node.unsafeNoOutOfBand !== undefined) {
            void pulumi.log.warn(`${node.name} is changed over SSH with no out-of-band access (unsafeNoOutOfBand: ${node.unsafeNoOutOfBand})`, this);
        }
        const change = new NodeChange(
            `${name}-change`,
            {
                spec: k3sChangeSpec(k3sChange(args)),
                ...nodeChangeAccess(node, {
                    change: "k3s",
                    settings,
                    sshPrivateKey: args.secrets.sshPrivateKey,
                    ...(args.context === undefined ? {} : { context: args.context }),
                    ...(node.role === "agent" ? { drain: { agentOf: { server: args.server.name, version: node.k3sVersion } } } : {}),
                    gate: (applied) => (applied.previous !== "none" && applied.previous !== node.k3sVersion ? { previousVersion: applied.previous } : {}),
                }),
                settings,
                stdin: args.secrets.k3sToken,
                kubeconfig: args.secrets.kubeconfig,
                triggers: [node.k3sVersion],
                ...(args.after === undefined ? {} : { after: args.after }),
            },
            { parent: this },
        );
        this.confirmed = change.done;
        this.registerOutputs({});
    }
}
