// Exact violation texts: what a user reads in preview, in a PR and in kubectl.
import { describe, expect, it } from "vitest";
import { compliantPodSpec, daemonSet, deployment } from "../fixtures/guard-cases";
import { cliVerdict, packVerdict } from "../helpers/gates";

describe("violation messages", () => {
    it("daemonset-no-host-network names the object, the field and the outage", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        expect(cliVerdict([daemonSet(spec, { name: "tailscale-worker", namespace: "tailscale" })]).messages).toEqual([
            "DaemonSet tailscale/tailscale-worker: spec.template.spec.hostNetwork is true; a DaemonSet on the host network runs on every node at once and can cut the nodes off (the 2025-10-13 outage)",
        ]);
    });

    it("the pack appends the remediation", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        expect(packVerdict([daemonSet(spec)]).messages).toEqual([
            "DaemonSet apps/web: spec.template.spec.hostNetwork is true; a DaemonSet on the host network runs on every node at once and can cut the nodes off (the 2025-10-13 outage). " +
                "Fix: Run the workload in the pod network (drop hostNetwork) and send egress through the egress gateway; node-level changes go through the node rollout (canary first, gated, self-reverting).",
        ]);
    });

    it("no-host-path-network-state quotes the path as written and the rule it matched", () => {
        const spec = compliantPodSpec();
        spec.volumes.push({ name: "cni", hostPath: { path: "/etc//cni/../cni/net.d/" } });
        expect(cliVerdict([deployment(spec)]).messages).toEqual([
            'Deployment apps/web: volume "cni" mounts host path "/etc//cni/../cni/net.d/" (spec.template.spec.volumes[2].hostPath.path), which matches the protected host path /etc/cni: node network and cluster state survive the pod and break the node when they go wrong',
        ]);
    });

    it("tailscale-exit-node-by-ip says why a hostname fails at first start", () => {
        const spec = compliantPodSpec();
        spec.containers[1].env[2].value = "--exit-node=srv712429";
        expect(cliVerdict([deployment(spec)]).messages).toEqual([
            'Deployment apps/web: container "tailscale" sets --exit-node=srv712429 in TS_EXTRA_ARGS; a name is not in the peer list when the container first starts, so tailscale rejects it ("invalid value for --exit-node"), and a non-Tailscale IP is never a peer: use the exit node\'s Tailscale IP or auto:any',
        ]);
    });

    it("an annotation exemption without a reason says to add one", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        const obj = daemonSet(spec, { annotations: { "guardrails.oceanid/exempt": "daemonset-no-host-network" } });
        expect(cliVerdict([obj]).messages).toEqual([
            "DaemonSet apps/web: spec.template.spec.hostNetwork is true; a DaemonSet on the host network runs on every node at once and can cut the nodes off (the 2025-10-13 outage) " +
                "(annotation guardrails.oceanid/exempt lists daemonset-no-host-network but has no reason: add a non-empty guardrails.oceanid/reason)",
        ]);
    });

    it("an expired platform exemption says when it expired", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        const ex = [{ kind: "DaemonSet", namespace: "apps", name: "web", policies: ["daemonset-no-host-network"], reason: "r", expires: "2026-11-23" }];
        expect(cliVerdict([daemonSet(spec)], ex).messages[0]).toMatch(/\(platform exemption for daemonset-no-host-network expired on 2026-11-23\)$/);
        const stillValid = [{ ...ex[0], expires: "2026-11-24" }];
        expect(cliVerdict([daemonSet(spec)], stillValid).exempted).toEqual(["daemonset-no-host-network"]);
    });
});
