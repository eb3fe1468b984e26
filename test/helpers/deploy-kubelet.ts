// What the scheduler and the kubelets would do for one namespace's Pods on a
// control plane without them: bind each new Pod to a node, report it Running
// and Ready with a pod IP, and remove a Pod marked for deletion once it is
// "stopped". Deployments, ReplicaSets and Endpoints then follow their real controllers.
import { kubectlAsync } from "./cluster-admission";
import type { TestCluster } from "./test-cluster";

interface PodView {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName?: string; containers: Array<{ name: string; image: string }> };
}

export interface StandInKubelet {
    /** Pods bound so far, by name, with their node. */
    readonly bound: ReadonlyMap<string, string>;
    /** Failures of kubectl calls (empty when all went through). */
    readonly errors: readonly string[];
    stop(): Promise<void>;
}

/** Starts the loop; Pods go to `nodes` in turn (name them as the scheduler would pick: untainted ones). */
export function standInKubelet(cluster: Pick<TestCluster, "kubeconfig" | "dir">, namespace: string, nodes: readonly string[]): StandInKubelet {
    const bound = new Map<string, string>();
    const errors: string[] = [];
    let running = true;
    const must = async (args: string[], stdin?: string) => {
        const r = await kubectlAsync(cluster, args, stdin);
        // A Pod gone between listing and acting on it is no failure.
        if (r.code !== 0 && !/NotFound|not found/.test(r.stderr)) errors.push(`kubectl ${args.join(" ")}: ${r.output.trim()}`);
        return r;
    };
    const step = async (pod: PodView) => {
        const name = pod.metadata.name;
        if (pod.metadata.deletionTimestamp !== undefined) {
            await must(["delete", "pod", name, "-n", namespace, "--grace-period=0", "--force", "--wait=false"]);
            return;
        }
        if (pod.spec.nodeName !== undefined) return;
        const node = nodes[bound.size % nodes.length];
        const binding = { apiVersion: "v1", kind: "Binding", metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: node } };
        if ((await must(["create", "--raw", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, "-f", "-"], JSON.stringify(binding))).code !== 0) return;
        bound.set(name, node);
        const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const ip = `10.42.${bound.size}.10`; // one pod per node here, as the spread constraint asks
        const status = {
            phase: "Running",
            podIP: ip,
            podIPs: [{ ip }],
            startTime: now,
            conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: "True", lastTransitionTime: now })),
            containerStatuses: pod.spec.containers.map((c) => ({
                name: c.name,
                image: c.image,
                imageID: "",
                ready: true,
                started: true,
                restartCount: 0,
                state: { running: { startedAt: now } },
            })),
        };
        await must(["patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    };
    const loop = (async () => {
        while (running) {
            const r = await kubectlAsync(cluster, ["get", "pods", "-n", namespace, "-o", "json"]);
            if (r.code === 0) {
                for (const pod of JSON.parse(r.stdout).items as PodView[]) await step(pod);
            }
            await new Promise((res) => setTimeout(res, 300));
        }
    })();
    return {
        bound,
        errors,
        async stop() {
            running = false;
            await loop;
        },
    };
}
