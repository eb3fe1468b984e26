// The NodePatch body as the pure builder makes it: whose taints stay, where they go,
// what the program records as its own, and when the live Node needs no apply at all.
import { describe, expect, it } from "vitest";
import { mergeTaints, nodePatchPlan, OWNED_ANNOTATION, ownedRecord, parseOwned, type Taint } from "../../components/nodes/node-patch";

const GPU = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" as const };
const DEDICATED = { key: "oceanid.io/dedicated", value: "ml", effect: "PreferNoSchedule" as const };
const calypso = { name: "calypso", canary: false, labels: { "oceanid.io/site": "home" }, taints: [GPU, DEDICATED] };
/** What the node-lifecycle controller and a cordon put on a Node. */
const NOT_READY: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };
const NOT_READY_EXEC: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoExecute", timeAdded: "2026-01-15T03:34:56Z" };
const UNSCHEDULABLE: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: "2026-01-15T03:35:00Z" };
const OTHER: Taint = { key: "example.com/maintenance", value: "planned", effect: "NoSchedule" };

const RECORD = '{"labels":["oceanid.io/site"],"taints":["nvidia.com/gpu:NoSchedule","oceanid.io/dedicated:PreferNoSchedule"]}';
const ANNOTATIONS = { "pulumi.com/patchForce": "true", [OWNED_ANNOTATION]: RECORD };

describe("nodePatchPlan without a live Node (render mode)", () => {
    it("is the configured labels and taints, the record and the force annotation, never up to date", () => {
        expect(nodePatchPlan(calypso)).toEqual({
            body: {
                metadata: { name: "calypso", labels: { "oceanid.io/site": "home" }, annotations: ANNOTATIONS },
                spec: { taints: [GPU, DEDICATED] },
            },
            upToDate: false,
        });
    });

    it("marks the canary and writes an empty value as none, as the API server stores it", () => {
        const plan = nodePatchPlan({ name: "srv712695", canary: true, labels: {}, taints: [{ key: "a", value: "", effect: "NoExecute" }] });
        expect(plan.body.metadata.labels).toEqual({ "oceanid.io/canary": "true" });
        expect(plan.body.spec.taints).toEqual([{ key: "a", effect: "NoExecute" }]);
        expect(plan.body.metadata.annotations[OWNED_ANNOTATION]).toBe('{"labels":["oceanid.io/canary"],"taints":["a:NoExecute"]}');
    });
});

describe("nodePatchPlan with the live Node", () => {
    it("first apply: keeps Kubernetes' taints where they are and adds the configured ones after them", () => {
        const plan = nodePatchPlan(calypso, { labels: { "kubernetes.io/hostname": "calypso" }, taints: [NOT_READY, NOT_READY_EXEC] });
        expect(plan).toEqual({
            body: {
                metadata: { name: "calypso", labels: { "oceanid.io/site": "home" }, annotations: ANNOTATIONS },
                spec: { taints: [NOT_READY, NOT_READY_EXEC, GPU, DEDICATED] },
            },
            upToDate: false,
        });
    });

    it("is up to date when the Node has exactly that: the same body, and no apply", () => {
        const live = { labels: { "oceanid.io/site": "home", x: "y" }, annotations: { [OWNED_ANNOTATION]: RECORD }, taints: [NOT_READY, GPU, DEDICATED] };
        expect(nodePatchPlan(calypso, live)).toEqual({
            body: {
                metadata: { name: "calypso", labels: { "oceanid.io/site": "home" }, annotations: ANNOTATIONS },
                spec: { taints: [NOT_READY, GPU, DEDICATED] },
            },
            upToDate: true,
        });
    });

    it("stays up to date when others add and remove their taints (a cordon, kubectl taint, the Node turning Ready)", () => {
        const live = {
            labels: { "oceanid.io/site": "home" },
            annotations: { [OWNED_ANNOTATION]: RECORD },
            taints: [GPU, UNSCHEDULABLE, DEDICATED, OTHER, NOT_READY_EXEC],
        };
        const plan = nodePatchPlan(calypso, live);
        expect(plan.body.spec.taints).toEqual([GPU, UNSCHEDULABLE, DEDICATED, OTHER, NOT_READY_EXEC]);
        expect(plan.upToDate).toBe(true);
    });

    it("a taint removed from config goes, a changed value is updated in place, every other taint stays", () => {
        const before = {
            labels: { "oceanid.io/site": "home" },
            annotations: { [OWNED_ANNOTATION]: RECORD },
            taints: [NOT_READY, GPU, UNSCHEDULABLE, DEDICATED, OTHER],
        };
        const plan = nodePatchPlan({ ...calypso, taints: [{ ...GPU, value: "a100" }] }, before);
        expect(plan.body.spec.taints).toEqual([NOT_READY, { ...GPU, value: "a100" }, UNSCHEDULABLE, OTHER]);
        expect(plan.body.metadata.annotations[OWNED_ANNOTATION]).toBe('{"labels":["oceanid.io/site"],"taints":["nvidia.com/gpu:NoSchedule"]}');
        expect(plan.upToDate).toBe(false);
    });

    it("removes only the program's taint: another manager's with the same key but another effect stays", () => {
        const theirs: Taint = { key: DEDICATED.key, value: "ml", effect: "NoExecute", timeAdded: "2026-01-15T03:36:00Z" };
        const plan = nodePatchPlan(
            { ...calypso, taints: [GPU] },
            { labels: calypso.labels, annotations: { [OWNED_ANNOTATION]: RECORD }, taints: [GPU, DEDICATED, theirs] },
        );
        expect(plan.body.spec.taints).toEqual([GPU, theirs]);
    });

    it("puts back a configured taint someone removed, and the configured value over someone's change", () => {
        const live = { labels: calypso.labels, annotations: { [OWNED_ANNOTATION]: RECORD }, taints: [{ ...GPU, value: "false" }, NOT_READY] };
        const plan = nodePatchPlan(calypso, live);
        expect(plan.body.spec.taints).toEqual([GPU, NOT_READY, DEDICATED]);
        expect(plan.upToDate).toBe(false);
    });

    it("without a record (a Node patched before it existed), keeps unknown taints and claims the configured ones", () => {
        const live = { labels: calypso.labels, taints: [GPU, { key: "old.example/ours", effect: "NoSchedule" }] };
        const plan = nodePatchPlan(calypso, live);
        expect(plan.body.spec.taints).toEqual([GPU, { key: "old.example/ours", effect: "NoSchedule" }, DEDICATED]);
        expect(plan.body.metadata.annotations[OWNED_ANNOTATION]).toBe(RECORD);
        expect(nodePatchPlan({ ...calypso, taints: [GPU] }, { ...live, taints: [GPU] }).upToDate).toBe(false);
    });

    it("is not up to date while a configured label is missing or differs, or a dropped one of the program's is still there", () => {
        const upToDate = (labels: Record<string, string>, owned = RECORD) =>
            nodePatchPlan(calypso, { labels, annotations: { [OWNED_ANNOTATION]: owned }, taints: [GPU, DEDICATED] }).upToDate;
        expect(upToDate({ "oceanid.io/site": "home" })).toBe(true);
        expect(upToDate({})).toBe(false);
        expect(upToDate({ "oceanid.io/site": "vps" })).toBe(false);
        const ownedGpuLabel = '{"labels":["oceanid.io/gpu","oceanid.io/site"],"taints":["nvidia.com/gpu:NoSchedule","oceanid.io/dedicated:PreferNoSchedule"]}';
        // The record still names the dropped label: the apply that removes it also rewrites the record.
        expect(upToDate({ "oceanid.io/site": "home", "oceanid.io/gpu": "true" }, ownedGpuLabel)).toBe(false);
        expect(upToDate({ "oceanid.io/site": "home" }, ownedGpuLabel)).toBe(false);
        // Another manager's label of the same key is not the program's to remove once the record no longer names it.
        expect(upToDate({ "oceanid.io/site": "home", "oceanid.io/gpu": "true" })).toBe(true);
    });

    it("an empty config against a Node with no taints is up to date with an empty list", () => {
        const node = { name: "srv712429", canary: false, labels: {}, taints: [] };
        const plan = nodePatchPlan(node, { annotations: { [OWNED_ANNOTATION]: '{"labels":[],"taints":[]}' } });
        expect(plan.body.spec.taints).toEqual([]);
        expect(plan.upToDate).toBe(true);
    });
});

describe("mergeTaints", () => {
    it("keeps the live order, drops what was the program's, and appends what is new in config order", () => {
        const live: Taint[] = [OTHER, { key: "gone", effect: "NoSchedule" }, NOT_READY];
        expect(mergeTaints(live, ["gone:NoSchedule"], [DEDICATED, GPU])).toEqual([OTHER, NOT_READY, DEDICATED, GPU]);
        expect(mergeTaints([], [], [])).toEqual([]);
    });
});

describe("the record of what is the program's", () => {
    it("is sorted JSON of label keys and key:effect, and reads back", () => {
        const text = ownedRecord({ b: "1", a: "2" }, [GPU, { key: "a", effect: "NoExecute" }]);
        expect(text).toBe('{"labels":["a","b"],"taints":["a:NoExecute","nvidia.com/gpu:NoSchedule"]}');
        expect(parseOwned(text)).toEqual({ labels: ["a", "b"], taints: ["a:NoExecute", "nvidia.com/gpu:NoSchedule"] });
    });

    it("reads as nothing when missing or not the record, and keeps only strings", () => {
        const none = { labels: [], taints: [] };
        expect(parseOwned(undefined)).toEqual(none);
        expect(parseOwned("not json")).toEqual(none);
        expect(parseOwned("null")).toEqual(none);
        expect(parseOwned('"text"')).toEqual(none);
        expect(parseOwned('{"labels":"a","taints":["x:NoSchedule",3]}')).toEqual({ labels: [], taints: ["x:NoSchedule"] });
    });
});
