// drain and uncordon through main(), with the Kubernetes calls replaced by an in-memory API and a
// clock that moves only when the step sleeps: the paths a real control plane cannot be made to take
// on cue (API errors, a lost race for the cordon, an uncordon that fails after a timeout).
// test/health/drain-cluster.test.ts runs the same steps against the real API server.
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { USAGE } from "../../components/health/cli";
import { KubeApiError } from "../../components/health/kube-api";
import type { EvictionResult, NodeApi } from "../../components/health/node-api";
import { kubeconfigText, NOW, run } from "./fixtures";

const TOKEN = "kubeconfig-token-DO-NOT-PRINT-0123456789";

interface FakeCluster {
    nodes: Map<string, V1Node>;
    pods: V1Pod[];
    /** Decides each eviction; the default evicts (the pod then leaves at the next listing). */
    evict?(pod: { namespace: string; name: string }): EvictionResult;
    /** Throws this from the named call instead of answering. */
    fail?: Partial<Record<keyof NodeApi, (n: number) => KubeApiError | undefined>>;
    calls: string[];
}

const node = (name: string, over: { unschedulable?: boolean; annotations?: Record<string, string>; kubelet?: string; rv?: string } = {}): V1Node => ({
    metadata: { name, resourceVersion: over.rv ?? "1", annotations: over.annotations },
    spec: { unschedulable: over.unschedulable },
    status: { nodeInfo: { kubeletVersion: over.kubelet ?? "v1.33.5+k3s1" } as NonNullable<V1Node["status"]>["nodeInfo"] },
});

const pod = (name: string, owner?: string): V1Pod => ({
    metadata: {
        name,
        namespace: "apps",
        uid: `uid-${name}`,
        ownerReferences: owner ? [{ apiVersion: "apps/v1", kind: owner, name: `${owner.toLowerCase()}-1`, uid: "o", controller: true }] : undefined,
    },
    spec: { nodeName: "srv712695", containers: [] },
    status: { phase: "Running" },
});

/** An API over `cluster` that applies merge patches of the Node and removes evicted pods. */
function fakeApi(cluster: FakeCluster): NodeApi {
    const count: Record<string, number> = {};
    const maybeFail = (call: keyof NodeApi) => {
        count[call] = (count[call] ?? 0) + 1;
        const err = cluster.fail?.[call]?.(count[call]);
        if (err) throw err;
    };
    return {
        async readNode(name) {
            cluster.calls.push(`readNode ${name}`);
            maybeFail("readNode");
            const n = cluster.nodes.get(name);
            return n && structuredClone(n);
        },
        async listPods(nodeName) {
            cluster.calls.push(`listPods ${nodeName}`);
            maybeFail("listPods");
            return structuredClone(cluster.pods);
        },
        async patchNode(name, patch) {
            cluster.calls.push(`patchNode ${name} ${JSON.stringify(patch)}`);
            maybeFail("patchNode");
            const n = cluster.nodes.get(name)!;
            const p = patch as { metadata: { resourceVersion?: string; annotations: Record<string, string | null> }; spec: { unschedulable: boolean } };
            if (p.metadata.resourceVersion !== undefined && p.metadata.resourceVersion !== n.metadata!.resourceVersion) {
                throw new KubeApiError("answered HTTP 409 Conflict", 409);
            }
            const annotations = { ...n.metadata!.annotations };
            for (const [k, v] of Object.entries(p.metadata.annotations)) {
                if (v === null) delete annotations[k];
                else annotations[k] = v;
            }
            n.metadata = { ...n.metadata, annotations, resourceVersion: String(Number(n.metadata!.resourceVersion) + 1) };
            n.spec = { ...n.spec, unschedulable: p.spec.unschedulable };
        },
        async evict(p) {
            cluster.calls.push(`evict ${p.namespace}/${p.name}`);
            maybeFail("evict");
            const result = cluster.evict?.(p) ?? { outcome: "evicted" };
            if (result.outcome === "evicted") cluster.pods = cluster.pods.filter((q) => q.metadata!.name !== p.name);
            return result;
        },
    };
}

/** Runs `oceanid-health <args>` against `cluster`, the clock starting at NOW and moving only by sleeps. */
async function step(args: string[], cluster: FakeCluster) {
    let now = NOW.getTime();
    const slept: number[] = [];
    const r = await run(args, {
        now: () => new Date(now),
        sleep: async (ms) => {
            slept.push(ms);
            now += ms;
        },
        readStdin: () => kubeconfigText("https://127.0.0.1:1", { token: TOKEN }),
        nodeApi: () => fakeApi(cluster),
    });
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    return { ...r, slept };
}

const cluster = (over: Partial<FakeCluster> = {}): FakeCluster => ({
    nodes: new Map([
        ["srv712429", node("srv712429", { kubelet: "v1.33.5+k3s1" })],
        ["srv712695", node("srv712695")],
    ]),
    pods: [],
    calls: [],
    ...over,
});
const drainArgs = (...extra: string[]) => ["drain", "--node", "srv712695", "--change", "k3s", "--timeout", "6", "--kubeconfig", "-", ...extra];
const OURS = { "oceanid.io/cordoned-by": "node-change/k3s", "oceanid.io/cordoned-at": "2026-03-02T10:00:00Z" };

describe("drain", () => {
    it("cordons, evicts, and waits until the pods are gone", async () => {
        const c = cluster({ pods: [pod("web-1", "ReplicaSet"), pod("ds-1", "DaemonSet")] });
        const r = await step(drainArgs(), c);
        expect(r).toMatchObject({
            code: 0,
            stdout: "drained: srv712695: evicted 1 pod (apps/web-1); left 1 (DaemonSet or mirror pods)\n",
            stderr: "oceanid-health: drain: cordoned srv712695\noceanid-health: drain: evicting 1 pod from srv712695: apps/web-1\n",
        });
        expect(c.nodes.get("srv712695")!.spec!.unschedulable).toBe(true);
        expect(c.nodes.get("srv712695")!.metadata!.annotations).toEqual(OURS);
    });

    it("--no-drain checks the server and reads nothing of the node", async () => {
        const c = cluster();
        const r = await step(drainArgs("--no-drain", "--agent-of", "srv712429", "--version", "v1.33.5+k3s1"), c);
        expect(r).toMatchObject({
            code: 0,
            stdout: "preflight ok: the server srv712429 runs v1.33.5+k3s1\ndrain: skipped for srv712695 (nodeChanges.drain is false)\n",
            stderr: "",
        });
        expect(c.calls).toEqual(["readNode srv712429"]);
    });

    it("an API error in the preflight or before the cordon fails the step, changing nothing", async () => {
        const down = () => new KubeApiError("unreachable (connect ECONNREFUSED)");
        const pre = await step(drainArgs("--agent-of", "srv712429", "--version", "v1.33.5+k3s1"), cluster({ fail: { readNode: down } }));
        expect(pre).toMatchObject({ code: 1, stdout: "", stderr: "PREFLIGHT FAILED node=srv712695 reason=api: unreachable (connect ECONNREFUSED)\n" });
        const c = cluster({ fail: { listPods: down } });
        const r = await step(drainArgs(), c);
        expect(r).toMatchObject({ code: 1, stdout: "", stderr: "DRAIN FAILED node=srv712695 reason=api: unreachable (connect ECONNREFUSED)\n" });
        expect(c.calls.filter((call) => call.startsWith("patchNode"))).toEqual([]);
    });

    it("retries eviction errors every --interval until the timeout, then uncordons", async () => {
        const c = cluster({
            pods: [pod("web-1", "ReplicaSet")],
            evict: () => ({ outcome: "refused", why: "api: answered HTTP 500 Internal Server Error: etcdserver: request timed out" }),
        });
        const r = await step(drainArgs("--interval", "2"), c);
        expect(r.code).toBe(1);
        expect(r.slept).toEqual([2000, 2000, 2000]);
        expect(c.calls.filter((call) => call.startsWith("evict"))).toHaveLength(4);
        expect(r.stderr.split("\n").slice(-4)).toEqual([
            "oceanid-health: drain: waiting for apps/web-1 (api: answered HTTP 500 Internal Server Error: etcdserver: request timed out)",
            "oceanid-health: drain: uncordoned srv712695 again",
            "DRAIN FAILED node=srv712695 reason=pods did not leave within 6s: apps/web-1 (api: answered HTTP 500 Internal Server Error: etcdserver: request timed out)",
            "",
        ]);
        expect(c.nodes.get("srv712695")!.spec!.unschedulable).toBe(false);
        expect(c.nodes.get("srv712695")!.metadata!.annotations).toEqual({});
    });

    it("says so when the uncordon after a timeout fails too", async () => {
        const c = cluster({
            pods: [pod("web-1", "ReplicaSet")],
            evict: () => ({ outcome: "refused", why: "PodDisruptionBudget apps/web allows no disruption" }),
            // The cordon goes through; the uncordon does not.
            fail: { patchNode: (n) => (n === 2 ? new KubeApiError("timed out after 1s") : undefined) },
        });
        const r = await step(drainArgs(), c);
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toBe(
            "DRAIN FAILED node=srv712695 reason=pods did not leave within 6s: apps/web-1 (PodDisruptionBudget apps/web allows no disruption); " +
                "srv712695 stays cordoned: uncordoning it failed (api: timed out after 1s)",
        );
    });

    it("counts a pod as gone when its eviction finds none, or its name now has another uid", async () => {
        const c = cluster({
            pods: [pod("web-1", "ReplicaSet"), pod("db-0", "StatefulSet")],
            evict: (p) => {
                if (p.name === "web-1") return { outcome: "gone" };
                // The StatefulSet's next db-0 takes the name at once.
                c.pods = c.pods.map((q) => (q.metadata!.name === "db-0" ? { ...q, metadata: { ...q.metadata, uid: "uid-db-0-next" } } : q));
                return { outcome: "evicted" };
            },
        });
        const r = await step(drainArgs(), c);
        expect(r.stdout).toBe("drained: srv712695: evicted 2 pods (apps/db-0, apps/web-1); left 0 (DaemonSet or mirror pods)\n");
        expect(r.code).toBe(0);
    });

    it("lost the race for the cordon: reads the node again and leaves a cordon someone set meanwhile", async () => {
        const c = cluster({ pods: [pod("web-1", "ReplicaSet")] });
        const api = fakeApi(c);
        const realRead = api.readNode;
        let reads = 0;
        // Between the drain's read and its patch, someone cordons the node.
        const racing: NodeApi = {
            ...api,
            readNode: async (name) => {
                const n = await realRead(name);
                if (name === "srv712695" && ++reads === 1) c.nodes.set(name, node(name, { unschedulable: true, rv: "2" }));
                return n;
            },
        };
        const r = await run(drainArgs(), {
            now: () => NOW,
            sleep: async () => undefined,
            readStdin: () => kubeconfigText("https://127.0.0.1:1"),
            nodeApi: () => racing,
        });
        expect(r.stderr).toBe(
            "oceanid-health: drain: srv712695 was cordoned before the change, not by oceanid: it stays cordoned afterwards\n" +
                "oceanid-health: drain: evicting 1 pod from srv712695: apps/web-1\n",
        );
        expect(r.code).toBe(0);
        expect(c.nodes.get("srv712695")!.metadata!.annotations).toBeUndefined();
    });

    it("bad arguments and an unreadable kubeconfig exit 2 before any call", async () => {
        const c = cluster();
        const bad = await step(["drain", "--node", "srv712695", "--timeout", "soon"], c);
        expect(bad).toMatchObject({
            code: 2,
            stdout: "",
            stderr: `oceanid-health: drain: --change is required; --timeout must be a positive whole number of seconds, got "soon"\n${USAGE}\n`,
        });
        const r = await run(drainArgs(), { readStdin: () => `token: ${TOKEN}\n: [`, nodeApi: () => fakeApi(c) });
        expect(r).toEqual({ code: 2, stdout: "", stderr: "oceanid-health: cannot check: the kubeconfig on stdin is not a valid kubeconfig\n" });
        expect(c.calls).toEqual([]);
    });
});

describe("uncordon", () => {
    const uncordonArgs = ["uncordon", "--node", "srv712695", "--kubeconfig", "-"];

    it("retries once the Node changed under it (409), then lifts its own cordon", async () => {
        const c = cluster();
        c.nodes.set("srv712695", node("srv712695", { unschedulable: true, annotations: OURS, rv: "5" }));
        let patches = 0;
        c.fail = { patchNode: () => (++patches === 1 ? new KubeApiError("answered HTTP 409 Conflict", 409) : undefined) };
        const r = await step(uncordonArgs, c);
        expect(r).toMatchObject({ code: 0, stdout: "uncordoned: srv712695\n", stderr: "" });
        expect(c.calls.filter((call) => call.startsWith("readNode"))).toHaveLength(2);
        expect(c.nodes.get("srv712695")!.spec!.unschedulable).toBe(false);
    });

    it("fails with one line on an API error", async () => {
        const c = cluster({ fail: { readNode: () => new KubeApiError("refused the credentials (HTTP 403 Forbidden)", 403) } });
        expect(await step(uncordonArgs, c)).toMatchObject({
            code: 1,
            stdout: "",
            stderr: "UNCORDON FAILED node=srv712695 reason=api: refused the credentials (HTTP 403 Forbidden)\n",
        });
    });

    it("wants --node", async () => {
        const r = await step(["uncordon"], cluster());
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(`oceanid-health: uncordon: --node is required\n${USAGE}\n`);
    });
});
