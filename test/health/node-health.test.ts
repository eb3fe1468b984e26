// nodeProblems: one healthy observation, then each way a node can be unhealthy, with its exact text.
import { describe, expect, it } from "vitest";
import { leaseAgeSeconds, nodeProblems, type NodeExpectation, type NodeObservation } from "../../components/health/node-health";

const NOW = new Date("2026-03-02T10:00:00Z");
const secondsBefore = (s: number, from = NOW) => new Date(from.getTime() - s * 1000);

const expectation: NodeExpectation = {
    name: "srv712695",
    k3sVersion: "v1.33.5+k3s1",
    ssh: { host: "192.0.2.20", port: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI" },
};

const healthy = (): NodeObservation => ({
    name: "srv712695",
    registered: true,
    ready: { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
    kubeletVersion: "v1.33.5+k3s1",
    leaseRenewTime: secondsBefore(5),
    ssh: { ok: true },
});

const opts = { now: NOW, maxLeaseAgeSeconds: 40 };

describe("nodeProblems", () => {
    it("finds nothing wrong with a Ready node at its version, a fresh Lease and SSH answering", () => {
        expect(nodeProblems(expectation, healthy(), opts)).toEqual([]);
    });

    it.each<[string, (o: NodeObservation) => void, string]>([
        [
            "not registered",
            (o) => Object.assign(o, { registered: false, ready: undefined, kubeletVersion: undefined, leaseRenewTime: undefined }),
            "not registered in the API server",
        ],
        [
            "Ready False with reason and message",
            (o) => (o.ready = { status: "False", reason: "KubeletNotReady", message: "container runtime network not ready" }),
            "Ready is False (KubeletNotReady: container runtime network not ready)",
        ],
        [
            "Ready Unknown after the node stopped posting",
            (o) => (o.ready = { status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." }),
            "Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)",
        ],
        ["Ready without a reason", (o) => (o.ready = { status: "False" }), "Ready is False"],
        ["Ready with a reason but no message", (o) => (o.ready = { status: "False", reason: "KubeletNotReady" }), "Ready is False (KubeletNotReady)"],
        ["no Ready condition at all", (o) => (o.ready = undefined), "Ready is Unknown (no Ready condition reported)"],
        ["no Lease", (o) => (o.leaseRenewTime = undefined), "no Lease in kube-node-lease"],
        ["a stale Lease", (o) => (o.leaseRenewTime = secondsBefore(95.7)), "Lease last renewed 95s ago (limit 40s)"],
        ["another kubelet version", (o) => (o.kubeletVersion = "v1.33.4+k3s1"), "kubelet v1.33.4+k3s1 but config says v1.33.5+k3s1"],
        ["no kubelet version", (o) => (o.kubeletVersion = undefined), "kubelet (not reported) but config says v1.33.5+k3s1"],
        [
            "SSH failing, in the probe's words",
            (o) => (o.ssh = { ok: false, reason: "ssh 192.0.2.20:22 unreachable (connect ECONNREFUSED)" }),
            "ssh 192.0.2.20:22 unreachable (connect ECONNREFUSED)",
        ],
    ])("%s", (_, breakIt, reason) => {
        const obs = healthy();
        breakIt(obs);
        expect(nodeProblems(expectation, obs, opts)).toEqual([reason]);
    });

    it("lists every problem, in the order registration, Ready, Lease, kubelet, SSH", () => {
        const obs: NodeObservation = {
            ...healthy(),
            ready: { status: "False" },
            leaseRenewTime: secondsBefore(60),
            kubeletVersion: "v1.32.9+k3s1",
            ssh: { ok: false, reason: "ssh x" },
        };
        expect(nodeProblems(expectation, obs, opts)).toEqual([
            "Ready is False",
            "Lease last renewed 60s ago (limit 40s)",
            "kubelet v1.32.9+k3s1 but config says v1.33.5+k3s1",
            "ssh x",
        ]);
    });

    it("still reports SSH for a node that is not registered", () => {
        const obs: NodeObservation = { name: "calypso", registered: false, ssh: { ok: false, reason: "ssh y" } };
        expect(nodeProblems(expectation, obs, opts)).toEqual(["not registered in the API server", "ssh y"]);
    });

    describe("Lease age without a change time", () => {
        it("accepts exactly the limit and refuses a second more", () => {
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: secondsBefore(40.9) }, opts)).toEqual([]);
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: secondsBefore(41) }, opts)).toEqual(["Lease last renewed 41s ago (limit 40s)"]);
        });

        it("uses the given limit", () => {
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: secondsBefore(12) }, { now: NOW, maxLeaseAgeSeconds: 10 })).toEqual([
                "Lease last renewed 12s ago (limit 10s)",
            ]);
        });

        it("takes a Lease renewed by a clock ahead of ours as fresh", () => {
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: secondsBefore(-30) }, opts)).toEqual([]);
            expect(leaseAgeSeconds(secondsBefore(-30), NOW)).toBe(0);
        });
    });

    describe("Lease against the change time (the gate)", () => {
        const since = secondsBefore(20);

        it("wants a renewal after the change, however recent the old one", () => {
            const obs = { ...healthy(), leaseRenewTime: secondsBefore(21) };
            expect(nodeProblems(expectation, obs, { ...opts, since })).toEqual([
                "Lease not renewed since the change (last renewed 2026-03-02T09:59:39.000Z, change at 2026-03-02T09:59:40.000Z)",
            ]);
        });

        it("refuses a renewal at the very second of the change", () => {
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: since }, { ...opts, since })).toHaveLength(1);
        });

        it("accepts a renewal after the change, even one older than the age limit", () => {
            const old = secondsBefore(100);
            const obs = { ...healthy(), leaseRenewTime: secondsBefore(99) };
            expect(nodeProblems(expectation, obs, { ...opts, since: old })).toEqual([]);
            // The same Lease fails the age check: the change time replaces it, it does not add to it.
            expect(nodeProblems(expectation, obs, opts)).toEqual(["Lease last renewed 99s ago (limit 40s)"]);
        });

        it("still wants a Lease at all", () => {
            expect(nodeProblems(expectation, { ...healthy(), leaseRenewTime: undefined }, { ...opts, since })).toEqual(["no Lease in kube-node-lease"]);
        });

        it("wants a renewed Lease to keep changing: unchanged for longer than the limit is stale", () => {
            const obs = { ...healthy(), leaseRenewTime: secondsBefore(5) };
            expect(nodeProblems(expectation, obs, { ...opts, since, leaseUnchangedSeconds: 40 })).toEqual([]);
            expect(nodeProblems(expectation, obs, { ...opts, since, leaseUnchangedSeconds: 41 })).toEqual(["Lease not renewed for 41s (limit 40s)"]);
            expect(nodeProblems(expectation, obs, { ...opts, maxLeaseAgeSeconds: 20, since, leaseUnchangedSeconds: 21 })).toEqual([
                "Lease not renewed for 21s (limit 20s)",
            ]);
            // Before the first renewal after the change there is nothing to count yet.
            expect(nodeProblems(expectation, { ...obs, leaseRenewTime: secondsBefore(25) }, { ...opts, since, leaseUnchangedSeconds: 99 })).toEqual([
                "Lease not renewed since the change (last renewed 2026-03-02T09:59:35.000Z, change at 2026-03-02T09:59:40.000Z)",
            ]);
        });
    });

    describe("the version before the change", () => {
        const withPrevious = { ...expectation, previousVersion: "v1.33.4+k3s1" };

        it("says a node back on it may have reverted", () => {
            expect(nodeProblems(withPrevious, { ...healthy(), kubeletVersion: "v1.33.4+k3s1" }, opts)).toEqual([
                "kubelet v1.33.4+k3s1 (the release before the change: its revert may have run) but config says v1.33.5+k3s1",
            ]);
        });

        it("says nothing more of another version, or of the target", () => {
            expect(nodeProblems(withPrevious, { ...healthy(), kubeletVersion: "v1.32.9+k3s1" }, opts)).toEqual([
                "kubelet v1.32.9+k3s1 but config says v1.33.5+k3s1",
            ]);
            expect(nodeProblems(withPrevious, { ...healthy(), kubeletVersion: undefined }, opts)).toEqual([
                "kubelet (not reported) but config says v1.33.5+k3s1",
            ]);
            expect(nodeProblems(withPrevious, healthy(), opts)).toEqual([]);
        });
    });
});
