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

    it("the pack appends the remediation for a Tailscale workload, and the exemption route as annotations to copy", () => {
        const spec = compliantPodSpec();
        spec.hostNetwork = true;
        expect(packVerdict([daemonSet(spec)]).messages).toEqual([
            "DaemonSet apps/web: spec.template.spec.hostNetwork is true; a DaemonSet on the host network runs on every node at once and can cut the nodes off (the 2025-10-13 outage). " +
                "Fix: Run Tailscale in the pod network (drop hostNetwork) and send egress through the egress gateway; the node's own Tailscale is a node change and goes through the node rollout (canary first, gated, self-reverting). " +
                'If the workload is trusted with the node, exempt it with a reason: metadata.annotations: {guardrails.oceanid/exempt: daemonset-no-host-network, guardrails.oceanid/reason: "<why this is safe>"}.',
        ]);
    });

    it("a workload without Tailscale is not told about Tailscale: svclb-like host network, a device plugin's capability, a volume", () => {
        const spec = { containers: [{ name: "lb", image: "rancher/klipper-lb:v0.4.13", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }] } as Record<
            string,
            any
        >;
        spec.hostNetwork = true;
        const messages = packVerdict([daemonSet(spec, { name: "svclb-traefik", namespace: "kube-system" })]).messages.join("\n");
        expect(messages).not.toMatch(/tailscale/i);
        expect(messages).toContain(
            'DaemonSet kube-system/svclb-traefik: container "lb" adds capability NET_ADMIN (spec.template.spec.containers[0].securityContext.capabilities.add[0]), which lets it rewrite routes, firewall rules and interfaces of any network it shares with the node. ' +
                "Fix: Drop privileged and the added capabilities, or add only what the workload needs that cannot touch the node's network (e.g. NET_BIND_SERVICE); node software that truly needs one",
        );
        expect(messages).toContain("needs a reasoned exemption that names it (allow.hostNamespaces: [hostNetwork])");
        const pv = {
            apiVersion: "v1",
            kind: "PersistentVolume",
            metadata: { name: "pvc-1" },
            spec: { hostPath: { path: "/var/lib/rancher/k3s/storage/pvc-1_apps_data" } },
        };
        expect(packVerdict([pv]).messages[0]).toContain(
            "Fix: Point the volume at a directory of its own (a data disk such as /srv/...); k3s's local-path storage is admitted only when its provisioner creates the volume (provisionedVolumes in policies/guard-config.yaml).",
        );
    });

    it("no-host-path-network-state quotes the path as written and the rule it matched", () => {
        const spec = compliantPodSpec();
        spec.volumes.push({ name: "cni", hostPath: { path: "/etc//cni/../cni/net.d/" } });
        expect(cliVerdict([deployment(spec)]).messages).toEqual([
            'Deployment apps/web: volume "cni" mounts host path "/etc//cni/../cni/net.d/" (spec.template.spec.volumes[2].hostPath.path), which matches the protected host path /etc/cni: the node\'s network lives there, and a pod that writes it can cut the node off',
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

    it("an opaque envFrom is one finding per container and rule, naming every setting it may hold", () => {
        const spec = compliantPodSpec();
        spec.containers[1].env = spec.containers[1].env.filter((e: Record<string, unknown>) => e.name === "TS_AUTHKEY");
        spec.containers[1].envFrom = [{ configMapRef: { name: "ts" } }];
        expect(cliVerdict([deployment(spec)]).messages).toEqual([
            'Deployment apps/web: cannot prove container "tailscale" names its exit node by IP: TS_EXTRA_ARGS, TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR and TS_TAILSCALED_EXTRA_ARGS are not in env, and envFrom.configMapRef "ts" may set them',
            'Deployment apps/web: cannot prove container "tailscale" runs Tailscale in userspace mode: TS_USERSPACE and TS_TAILSCALED_EXTRA_ARGS are not in env, and envFrom.configMapRef "ts" may set them',
        ]);
    });
});
