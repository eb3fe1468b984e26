// Which pods a drain evicts, leaves or refuses to lose, and how a refused eviction is explained.
import { describe, expect, it } from "vitest";
import { evictionBlockedWhy, planDrain, podFate, type PodView } from "../../components/health/drain-plan";

const owner = (kind: string, controller = true) => ({ kind, name: `${kind.toLowerCase()}-1`, controller });
type Owner = ReturnType<typeof owner>;
const pod = (name: string, over: { owners?: Owner[]; annotations?: Record<string, string>; phase?: string } = {}): PodView => ({
    metadata: { name, namespace: "apps", uid: `uid-${name}`, ownerReferences: over.owners, annotations: over.annotations },
    status: { phase: over.phase ?? "Running" },
});

describe("podFate", () => {
    it.each<[string, PodView, string]>([
        ["a ReplicaSet's pod", pod("web", { owners: [owner("ReplicaSet")] }), "evict"],
        ["a StatefulSet's pod", pod("db-0", { owners: [owner("StatefulSet")] }), "evict"],
        ["a Job's pod", pod("job", { owners: [owner("Job")] }), "evict"],
        ["a DaemonSet's pod", pod("ds", { owners: [owner("DaemonSet")] }), "daemonset"],
        [
            "a mirror pod (its annotation decides, owner or not)",
            pod("etcd", { annotations: { "kubernetes.io/config.mirror": "abc" }, owners: [owner("Node")] }),
            "mirror",
        ],
        ["a bare pod", pod("bare"), "unmanaged"],
        ["a pod whose owners are not controllers", pod("owned", { owners: [owner("ReplicaSet", false), owner("DaemonSet", false)] }), "unmanaged"],
        ["a Succeeded bare pod", pod("done", { phase: "Succeeded" }), "finished"],
        ["a Failed DaemonSet pod", pod("crashed", { owners: [owner("DaemonSet")], phase: "Failed" }), "finished"],
        ["a Pending ReplicaSet pod", pod("pending", { owners: [owner("ReplicaSet")], phase: "Pending" }), "evict"],
    ])("%s: %s", (_, p, fate) => {
        expect(podFate(p)).toBe(fate);
    });
});

describe("planDrain", () => {
    it("splits the node's pods, keeping their order", () => {
        const plan = planDrain([
            pod("b", { owners: [owner("ReplicaSet")] }),
            pod("ds", { owners: [owner("DaemonSet")] }),
            pod("bare"),
            pod("a", { owners: [owner("StatefulSet")] }),
            pod("mirror", { annotations: { "kubernetes.io/config.mirror": "x" } }),
            pod("done", { phase: "Succeeded" }),
        ]);
        expect({
            evict: plan.evict.map((p) => p.metadata!.name),
            left: plan.left.map((p) => p.metadata!.name),
            unmanaged: plan.unmanaged.map((p) => p.metadata!.name),
        }).toEqual({ evict: ["b", "a"], left: ["ds", "mirror"], unmanaged: ["bare"] });
        expect(planDrain([])).toEqual({ evict: [], left: [], unmanaged: [] });
    });
});

describe("evictionBlockedWhy", () => {
    const tooMany = (cause?: string) => ({
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        reason: "TooManyRequests",
        details: { causes: cause === undefined ? [] : [{ reason: "DisruptionBudget", message: cause }] },
    });

    it("names the PodDisruptionBudget from the API server's cause", () => {
        expect(evictionBlockedWhy("apps", tooMany("The disruption budget web-pdb needs 2 healthy pods and has 2 currently"))).toBe(
            "PodDisruptionBudget apps/web-pdb allows no disruption",
        );
    });

    it("says when the budget's status is not computed yet", () => {
        expect(evictionBlockedWhy("apps", tooMany("The disruption budget web-pdb is still being processed by the server."))).toBe(
            "PodDisruptionBudget apps/web-pdb: is still being processed by the server",
        );
    });

    it("falls back to the Status message without a cause", () => {
        expect(evictionBlockedWhy("apps", tooMany())).toBe(
            "a PodDisruptionBudget allows no disruption (Cannot evict pod as it would violate the pod's disruption budget.)",
        );
        expect(evictionBlockedWhy("apps", undefined)).toBe("a PodDisruptionBudget allows no disruption (HTTP 429 Too Many Requests)");
    });
});
