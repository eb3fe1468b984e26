import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NodeConfig } from "../config/stack-config";
import { K3sAgent, type K3sAgentArgs } from "./k3s-agent";

/** Label that marks the node which takes node changes first. */
export const CANARY_LABEL = "oceanid.io/canary";

export interface ClusterNodeArgs {
    /** The node's validated settings. */
    node: NodeConfig;
    /** Kubernetes provider the node's labels and taints are applied through. */
    provider: k8s.Provider;
    /**
     * How k3s on this node is installed and upgraded over SSH. Leave it out
     * (nodeAccess "none") and the program never connects to the node.
     * @default none
     */
    k3s?: Omit<K3sAgentArgs, "node">;
}

/** The NodePatch body for a node: its configured labels and taints, plus the canary marker. */
export function nodePatchArgs(node: NodeConfig): k8s.core.v1.NodePatchArgs {
    const labels: Record<string, string> = { ...node.labels };
    if (node.canary) labels[CANARY_LABEL] = "true";
    return {
        metadata: { name: node.name, labels },
        spec: {
            taints: node.taints.map((t) => ({ key: t.key, effect: t.effect, ...(t.value === undefined ? {} : { value: t.value }) })),
        },
    };
}

/**
 * One node of the cluster: its k3s (when the stack has node access) and its
 * labels and taints. k3s creates the Node object; the labels and taints are
 * server-side-applied and left alone when the node is removed from the
 * program (retainOnDelete).
 */
export class ClusterNode extends pulumi.ComponentResource {
    /** This node's k3s change, confirmed; the next node's change waits for it. Undefined without node access. */
    readonly k3sConfirmed?: pulumi.Resource;

    constructor(name: string, args: ClusterNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:ClusterNode", name, {}, opts);
        new k8s.core.v1.NodePatch(`${name}-labels`, nodePatchArgs(args.node), {
            parent: this,
            provider: args.provider,
            retainOnDelete: true,
        });
        if (args.k3s !== undefined) {
            this.k3sConfirmed = new K3sAgent(`${name}-k3s`, { ...args.k3s, node: args.node }, { parent: this }).confirmed;
        }
        this.registerOutputs({ nodeName: args.node.name });
    }
}
