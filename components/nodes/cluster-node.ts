import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NodeConfig } from "../config/stack-config";

/** Label that marks the node which takes node changes first. */
export const CANARY_LABEL = "oceanid.io/canary";

export interface ClusterNodeArgs {
    /** The node's validated settings. */
    node: NodeConfig;
    /** Kubernetes provider the node's labels and taints are applied through. */
    provider: k8s.Provider;
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
 * One node of the cluster. k3s creates the Node object; this component only
 * server-side-applies the labels and taints from config, and leaves the node
 * alone when it is removed from the program (retainOnDelete).
 */
export class ClusterNode extends pulumi.ComponentResource {
    readonly patch: k8s.core.v1.NodePatch;

    constructor(name: string, args: ClusterNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:ClusterNode", name, {}, opts);
        this.patch = new k8s.core.v1.NodePatch(`${name}-labels`, nodePatchArgs(args.node), {
            parent: this,
            provider: args.provider,
            retainOnDelete: true,
        });
        this.registerOutputs({ nodeName: args.node.name });
    }
}
