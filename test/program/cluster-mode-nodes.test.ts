// index.ts on a cluster (the dev topology with kubernetes.mode "cluster"): every
// ClusterNode reads its live Node first, and its NodePatch keeps the taints the
// program does not own.
import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type Registered } from "../helpers/mock-runtime";

let resources: Registered[];
const NOT_READY = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };
const UNSCHEDULABLE = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: "2026-01-15T03:35:00Z" };
/** The API server's Nodes: as registered (not-ready), and calypso cordoned. */
const LIVE: Record<string, { spec: { taints: object[] } }> = {
    srv712429: { spec: { taints: [NOT_READY] } },
    srv712695: { spec: { taints: [] } },
    calypso: { spec: { taints: [UNSCHEDULABLE, NOT_READY] } },
};

beforeAll(async () => {
    ({ resources } = await runProgram(
        "dev",
        (config) => {
            config["oceanid:kubernetes"] = { mode: "cluster" };
            config["oceanid:kubeconfig"] = { secure: "dummy" };
        },
        { handle: (args) => (args.type === "kubernetes:core/v1:Node" ? { metadata: { name: args.id }, ...LIVE[args.id!] } : undefined) },
    ));
});

const byType = (type: string) => resources.filter((r) => r.type === type);

describe("index.ts with kubernetes.mode cluster", () => {
    it("reads each node's live Node, and patches it after the read", () => {
        expect(byType("kubernetes:core/v1:Node").map((r) => r.name)).toEqual(["srv712429-live", "srv712695-live", "calypso-live"]);
        // Each patch is registered when its own read is in: in no fixed order.
        const patches = byType("kubernetes:core/v1:NodePatch").sort((a, b) => a.name.localeCompare(b.name));
        expect(patches.map((p) => [p.name, p.dependsOn])).toEqual([
            ["calypso-labels", ["calypso-live"]],
            ["srv712429-labels", ["srv712429-live"]],
            ["srv712695-labels", ["srv712695-live"]],
        ]);
    });

    it("keeps the live taints and adds the configured ones after them", () => {
        const taints = (node: string) => byType("kubernetes:core/v1:NodePatch").find((p) => p.inputs.metadata.name === node)!.inputs.spec.taints;
        expect(taints("srv712429")).toEqual([NOT_READY]);
        expect(taints("srv712695")).toEqual([]);
        expect(taints("calypso")).toEqual([UNSCHEDULABLE, NOT_READY, { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]);
    });
});
