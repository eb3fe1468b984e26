// What the scheduler and the kubelets would do for the drain tests' Pods on a control plane
// without them: bind each new Pod (a DaemonSet's to the node its affinity names, any other to
// `place(pod)`, or leave it Pending), report bound Pods Running and Ready, and remove a Pod marked
// for deletion once it is "stopped" (unless `holdTerminating` keeps it terminating). Through the
// API directly, not kubectl: it runs while a drain runs in the same process.
import { CoreV1Api, KubeConfig, PatchStrategy, type V1Pod } from "@kubernetes/client-node";
import { kubeRequest } from "../../components/health/kube-api";

export interface PodBinder {
    /** Failures of API calls (empty when all went through). */
    readonly errors: readonly string[];
    /** Calls that timed out and were tried again on the next pass (a loaded API server, not a fault). */
    readonly retried: readonly string[];
    stop(): Promise<void>;
}

export interface BinderOptions {
    namespaces: readonly string[];
    /** The node for a new Pod that no DaemonSet pins; undefined leaves it Pending. */
    place(pod: V1Pod): string | undefined;
    /** Pods to leave terminating (a kubelet that does not stop them). */
    holdTerminating?(pod: V1Pod): boolean;
}

/** The node a DaemonSet's Pod is pinned to: its required node affinity on metadata.name. */
function daemonSetNode(pod: V1Pod): string | undefined {
    const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    return terms.flatMap((t) => t.matchFields ?? []).find((f) => f.key === "metadata.name")?.values?.[0];
}

function runningStatus(pod: V1Pod, podIp: string): object {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return {
        status: {
            phase: "Running",
            podIP: podIp,
            podIPs: [{ ip: podIp }],
            startTime: now,
            conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: "True", lastTransitionTime: now })),
            containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
                name: c.name,
                image: c.image,
                imageID: "",
                ready: true,
                started: true,
                restartCount: 0,
                state: { running: { startedAt: now } },
            })),
        },
    };
}

export function podBinder(kubeconfigPath: string, opts: BinderOptions): PodBinder {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const errors: string[] = [];
    const retried: string[] = [];
    // A call that timed out is tried again on the next pass, as the scheduler and kubelet would.
    const record = (what: string, err: unknown) => {
        const message = `${what}: ${(err as Error).message}`;
        (/timed out after/.test(message) ? retried : errors).push(message);
    };
    let running = true;
    let ips = 0;
    const must = async (what: string, call: Parameters<typeof kubeRequest>[1], contentType?: string) => {
        try {
            await kubeRequest(30_000, call, contentType);
        } catch (err) {
            // A Pod gone between listing and acting on it is no failure.
            if (!/HTTP 404/.test((err as Error).message)) record(what, err);
        }
    };
    const step = async (pod: V1Pod) => {
        const name = pod.metadata!.name!;
        const namespace = pod.metadata!.namespace!;
        if (pod.metadata?.deletionTimestamp !== undefined) {
            if (opts.holdTerminating?.(pod)) return;
            await must(`delete ${namespace}/${name}`, (o) => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }, o));
            return;
        }
        let node = pod.spec?.nodeName;
        if (node === undefined) {
            node = daemonSetNode(pod) ?? opts.place(pod);
            if (node === undefined) return;
            const body = { apiVersion: "v1", kind: "Binding", metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: node } };
            await must(`bind ${namespace}/${name}`, (o) => core.createNamespacedPodBinding({ name, namespace, body }, o));
        } else if (pod.status?.phase === "Running") {
            return;
        }
        const body = runningStatus(pod, `10.42.${++ips % 250}.10`);
        await must(`status ${namespace}/${name}`, (o) => core.patchNamespacedPodStatus({ name, namespace, body }, o), PatchStrategy.MergePatch);
    };
    const loop = (async () => {
        while (running) {
            for (const namespace of opts.namespaces) {
                try {
                    const list = await kubeRequest(30_000, (o) => core.listNamespacedPod({ namespace }, o));
                    for (const pod of list.items) await step(pod);
                } catch (err) {
                    record(`list ${namespace}`, err);
                }
            }
            await new Promise((r) => setTimeout(r, 150));
        }
    })();
    return {
        errors,
        retried,
        async stop() {
            running = false;
            await loop;
        },
    };
}
