import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NodeConfig } from "../config/stack-config";
import { K3sAgent, type K3sAgentArgs } from "./k3s-agent";
import { nodePatchPlan, UP_TO_DATE_IGNORES, type LiveNode, type NodePatchBody } from "./node-patch";

export { CANARY_LABEL } from "./node-patch";

export interface ClusterNodeArgs {
    /** The node's validated settings. */
    node: NodeConfig;
    /** Kubernetes provider the node's labels and taints are applied through. */
    provider: k8s.Provider;
    /**
     * Read the Node from the cluster first, so that the taints the program does not own
     * (Kubernetes' own, a cordon's, other controllers') stay: true with kubernetes.mode
     * "cluster". False in render mode, where there is no Node to read and the patch holds
     * the configured taints alone.
     */
    readLive: boolean;
    /**
     * How k3s on this node is installed and upgraded over SSH. Leave it out
     * (nodeAccess "none") and the program never connects to the node.
     * @default none
     */
    k3s?: Omit<K3sAgentArgs, "node">;
}

/**
 * One node of the cluster: its k3s (when the stack has node access) and its
 * labels and taints. k3s creates the Node object; the labels and taints are
 * server-side-applied and left alone when the node is removed from the
 * program (retainOnDelete). With a cluster the Node is read first
 * (`<name>-live`, after the node's k3s change when there is one), so every
 * taint the program does not own stays, see node-patch.ts.
 */
export class ClusterNode extends pulumi.ComponentResource {
    /** This node's k3s change, confirmed; the next node's change waits for it. Undefined without node access. */
    readonly k3sConfirmed?: pulumi.CustomResource;

    constructor(name: string, args: ClusterNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:ClusterNode", name, {}, opts);
        // The URN keeps its first name: the patch has carried labels and taints from the start.
        const patchName = `${name}-labels`;
        const patch = (body: NodePatchBody, ignoreChanges: string[], dependsOn: pulumi.Resource[]) =>
            new k8s.core.v1.NodePatch(patchName, body, { parent: this, provider: args.provider, retainOnDelete: true, ignoreChanges, dependsOn });
        // With a cluster, the patch is registered once the read is in (known in preview too):
        // spec.taints is one atomic list for server-side apply, so the patch carries the whole
        // list, built from the live Node. When the Node already has it all, nothing is applied,
        // and changes to others' taints show no diff.
        if (args.k3s !== undefined) {
            this.k3sConfirmed = new K3sAgent(`${name}-k3s`, { ...args.k3s, node: args.node }, { parent: this }).confirmed;
        }
        let patched: pulumi.Output<string>;
        if (args.readLive) {
            // After the node's k3s change: a node the change installs k3s on registers only then.
            // The read waits in a preview where that change runs, and happens in preview otherwise.
            const id = this.k3sConfirmed === undefined ? pulumi.output(args.node.name) : this.k3sConfirmed.id.apply(() => args.node.name);
            const live = k8s.core.v1.Node.get(`${name}-live`, id, {
                parent: this,
                provider: args.provider,
                ...(this.k3sConfirmed === undefined ? {} : { dependsOn: [this.k3sConfirmed] }),
            });
            patched = pulumi.all([live.metadata, live.spec]).apply(([metadata, spec]) => {
                const current: LiveNode = { labels: metadata?.labels, annotations: metadata?.annotations, taints: spec?.taints };
                const plan = nodePatchPlan(args.node, current);
                return patch(plan.body, plan.upToDate ? UP_TO_DATE_IGNORES : [], [live]).urn;
            });
        } else {
            patched = patch(nodePatchPlan(args.node).body, [], []).urn;
        }
        // The outputs wait for the patch, so the program does not end before it is registered.
        this.registerOutputs({ nodeName: args.node.name, patch: patched });
    }
}
