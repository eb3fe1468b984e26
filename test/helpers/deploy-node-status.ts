// What the kubelets report about their Nodes, on a control plane without them:
// each Node's Ready condition (posted once) and its Lease in kube-node-lease,
// renewed every few seconds. The node-lifecycle controller then runs as on a real
// cluster: its taints follow the conditions and cordons, and no Node turns
// unreachable for want of heartbeats.
import { kubectlAsync } from "./cluster-admission";
import type { TestCluster } from "./test-cluster";

/** Well inside the controller's node-monitor grace period (50 s). */
const RENEW_MS = 5_000;

export interface StandInNodeStatus {
    /** Failures of kubectl calls (empty when all went through). */
    readonly errors: readonly string[];
    stop(): Promise<void>;
}

/** A Lease's MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/Z$/, "000Z");
const seconds = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

/**
 * Posts each Node's Ready condition (`ready[name]`: True or False) and keeps its Lease
 * renewed until `stop()`. Resolves once every Node has both.
 */
export async function standInNodeStatus(cluster: Pick<TestCluster, "kubeconfig" | "dir">, ready: Record<string, boolean>): Promise<StandInNodeStatus> {
    const errors: string[] = [];
    const must = async (args: string[], stdin?: string) => {
        const r = await kubectlAsync(cluster, args, stdin);
        if (r.code !== 0) errors.push(`kubectl ${args.join(" ")}: ${r.output.trim()}`);
    };
    const renew = () =>
        Promise.all(
            Object.keys(ready).map((node) =>
                must(["patch", "lease", node, "-n", "kube-node-lease", "--type=merge", "-p", JSON.stringify({ spec: { renewTime: microTime(new Date()) } })]),
            ),
        );
    const now = new Date();
    await Promise.all(
        Object.entries(ready).map(async ([node, isReady]) => {
            const lease = {
                apiVersion: "coordination.k8s.io/v1",
                kind: "Lease",
                metadata: { name: node, namespace: "kube-node-lease" },
                spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime(now) },
            };
            await must(["create", "-f", "-"], JSON.stringify(lease));
            const condition = {
                type: "Ready",
                status: isReady ? "True" : "False",
                reason: isReady ? "KubeletReady" : "KubeletNotReady",
                message: "stand-in kubelet",
                lastHeartbeatTime: seconds(now),
                lastTransitionTime: seconds(now),
            };
            await must(["patch", "node", node, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [condition] } })]);
        }),
    );
    let running = true;
    let wake = () => {};
    const loop = (async () => {
        while (running) {
            await new Promise<void>((res) => {
                const timer = setTimeout(res, RENEW_MS);
                wake = () => (clearTimeout(timer), res());
            });
            if (running) await renew();
        }
    })();
    return {
        errors,
        async stop() {
            running = false;
            wake();
            await loop;
        },
    };
}
