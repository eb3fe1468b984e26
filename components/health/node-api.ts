/**
 * The Kubernetes calls the drain and uncordon steps make, one request each, through
 * {@link kubeRequest} (a timeout, no lingering connections, secret-free errors).
 */
import { CoreV1Api, PatchStrategy, type KubeConfig, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { evictionBlockedWhy } from "./drain-plan";
import { KubeApiError, kubeRequest } from "./kube-api";

export type EvictionResult =
    /** The API server accepted it: the pod is being deleted. */
    | { outcome: "evicted" }
    /** Not there any more (404). */
    | { outcome: "gone" }
    /**
     * Refused for now: a PodDisruptionBudget (429) or another API error, worth retrying. A name that
     * now belongs to another pod is refused too (409, the uid precondition): the next listing shows it gone.
     */
    | { outcome: "refused"; why: string };

/** What drain.ts and uncordon.ts need from the API server; tests replace it. */
export interface NodeApi {
    /** The Node, or undefined when it is not registered. */
    readNode(name: string): Promise<V1Node | undefined>;
    /** Every pod bound to the node, in every namespace. */
    listPods(node: string): Promise<V1Pod[]>;
    /** A JSON merge patch of the Node. */
    patchNode(name: string, patch: object): Promise<void>;
    /** POSTs an Eviction (policy/v1) for this pod, for this uid only. */
    evict(pod: { namespace: string; name: string; uid?: string }): Promise<EvictionResult>;
}

/** The real calls; each waits at most `timeoutMs()` (asked again per request, so a deadline can shrink it). */
export function kubeNodeApi(kc: KubeConfig, timeoutMs: () => number): NodeApi {
    const core = () => kc.makeApiClient(CoreV1Api);
    return {
        async readNode(name) {
            try {
                return await kubeRequest(timeoutMs(), (options) => core().readNode({ name }, options));
            } catch (err) {
                if (err instanceof KubeApiError && err.status === 404) return undefined;
                throw err;
            }
        },
        async listPods(node) {
            const list = await kubeRequest(timeoutMs(), (options) => core().listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, options));
            return list.items;
        },
        async patchNode(name, patch) {
            await kubeRequest(timeoutMs(), (options) => core().patchNode({ name, body: patch }, options), PatchStrategy.MergePatch);
        },
        async evict({ namespace, name, uid }) {
            const body = {
                apiVersion: "policy/v1",
                kind: "Eviction",
                metadata: { name, namespace },
                ...(uid !== undefined ? { deleteOptions: { preconditions: { uid } } } : {}),
            };
            try {
                await kubeRequest(timeoutMs(), (options) => core().createNamespacedPodEviction({ name, namespace, body }, options));
                return { outcome: "evicted" };
            } catch (err) {
                if (!(err instanceof KubeApiError)) throw err;
                if (err.status === 404) return { outcome: "gone" };
                if (err.status === 429) return { outcome: "refused", why: evictionBlockedWhy(namespace, err.apiStatus) };
                return { outcome: "refused", why: `api: ${err.message}` };
            }
        },
    };
}
