// Check mode on a node's last change and on the cordon a change leaves: each problem's exact text,
// and the cordon annotations read back from a Node and written by the patches.
import { describe, expect, it } from "vitest";
import { cordonPatch, cordonState, rfc3339Seconds, uncordonPatch } from "../../components/health/cordon";
import { nodeChangeProblems, type NodeChangeCondition } from "../../components/health/node-change-status";

const NOW = new Date("2026-03-02T10:00:00Z");
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);
const iso = (d: Date) => rfc3339Seconds(d);
const change = (reason: string, message: string, since = ago(30)): NodeChangeCondition => ({
    status: ["Confirmed", "Reverted"].includes(reason) ? "False" : "True",
    reason,
    message,
    lastTransitionTime: since,
});
const problems = (c: NodeChangeCondition) => nodeChangeProblems({ name: "calypso", nodeChange: c }, NOW);

describe("nodeChangeProblems", () => {
    it("says nothing of a confirmed or reverted change, or of a node without one", () => {
        expect(problems(change("Confirmed", `k3s change c-1: confirmed at ${iso(ago(900))}`, ago(900)))).toEqual([]);
        expect(problems(change("Reverted", `k3s change c-1: reverted at ${iso(ago(900))}`, ago(900)))).toEqual([]);
        expect(nodeChangeProblems({ name: "calypso" }, NOW)).toEqual([]);
    });

    it("reports a revert that failed, with the runbook", () => {
        const message = `k3s change c-1: revert failed at ${iso(ago(5))}: k3s did not start`;
        expect(problems(change("RevertFailed", message))).toEqual([`node change failed to revert: ${message}; see docs/runbooks/node-changes.md`]);
    });

    it("reports an Armed change more than 120s past its revert time, and not before", () => {
        const armed = (revertsAgo: number) => `k3s change c-2 armed at ${iso(ago(revertsAgo + 600))}; reverts at ${iso(ago(revertsAgo))} unless confirmed`;
        expect(problems(change("Armed", armed(-300)))).toEqual([]);
        expect(problems(change("Armed", armed(120)))).toEqual([]);
        expect(problems(change("Armed", armed(121)))).toEqual([`node change unresolved past its revert deadline: ${armed(121)}`]);
        expect(problems(change("Armed", "k3s change c-2 armed at some point"))).toEqual([
            "node change Armed, but its message names no revert time: k3s change c-2 armed at some point",
        ]);
    });

    it("reports a revert running longer than 600s", () => {
        const message = `k3s change c-3: revert started at ${iso(ago(601))}`;
        expect(problems(change("Reverting", message, ago(600)))).toEqual([]);
        expect(problems(change("Reverting", message, ago(601)))).toEqual([`node change revert running for 601s: ${message}`]);
    });

    it("reports a cordon a node change left, and not someone else's", () => {
        expect(nodeChangeProblems({ name: "calypso", cordon: { cordoned: true, byOceanid: true, kind: "k3s", since: "2026-03-02T09:00:00Z" } }, NOW)).toEqual([
            "cordoned by a k3s node change since 2026-03-02T09:00:00Z: once the node is healthy, kubectl uncordon calypso (docs/runbooks/node-changes.md)",
        ]);
        expect(nodeChangeProblems({ name: "calypso", cordon: { cordoned: true, byOceanid: false } }, NOW)).toEqual([]);
    });
});

describe("cordon annotations", () => {
    const node = (unschedulable: boolean | undefined, annotations?: Record<string, string>) => ({ metadata: { annotations }, spec: { unschedulable } });

    it("tells a node change's cordon from anyone else's", () => {
        expect(cordonState(node(undefined))).toEqual({ cordoned: false });
        // Annotations left on a schedulable node are no cordon.
        expect(cordonState(node(false, { "oceanid.io/cordoned-by": "node-change/k3s" }))).toEqual({ cordoned: false });
        expect(cordonState(node(true))).toEqual({ cordoned: true, byOceanid: false });
        expect(cordonState(node(true, { "oceanid.io/cordoned-by": "node-change/k3s", "oceanid.io/cordoned-at": "2026-03-02T10:00:00Z" }))).toEqual({
            cordoned: true,
            byOceanid: true,
            kind: "k3s",
            since: "2026-03-02T10:00:00Z",
        });
        expect(cordonState(node(true, { "oceanid.io/cordoned-by": "node-change/k3s" }))).toEqual({ cordoned: true, byOceanid: true, kind: "k3s", since: null });
    });

    it("cordons and uncordons in one merge patch each, guarded by the resourceVersion when given", () => {
        expect(cordonPatch("k3s", new Date("2026-03-02T10:00:00.789Z"), "4711")).toEqual({
            metadata: {
                resourceVersion: "4711",
                annotations: { "oceanid.io/cordoned-by": "node-change/k3s", "oceanid.io/cordoned-at": "2026-03-02T10:00:00Z" },
            },
            spec: { unschedulable: true },
        });
        expect(uncordonPatch()).toEqual({
            metadata: { annotations: { "oceanid.io/cordoned-by": null, "oceanid.io/cordoned-at": null } },
            spec: { unschedulable: false },
        });
        expect(uncordonPatch("7")).toMatchObject({ metadata: { resourceVersion: "7" } });
    });
});
