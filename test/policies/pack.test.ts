// The pack through @pulumi/policy's own validation path: unknown values,
// Patch and List types, Helm releases, and the pack's shape.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packPolicies } from "../../policies/engine/crossguard";
import { RULES } from "../../policies/rules";
import { compliantPodSpec, daemonSet } from "../fixtures/guard-cases";
import { guardConfig, packVerdictFor, RULE_IDS } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";

const UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7";
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("the policy pack", () => {
    it("has the eleven rules plus the notices policy, with these IDs and levels", () => {
        const policies = packPolicies(RULES, guardConfig());
        expect(policies.map((p) => [p.name, p.enforcementLevel])).toEqual([
            ["daemonset-no-host-network", "mandatory"],
            ["workload-no-host-namespaces", "mandatory"],
            ["no-host-path-network-state", "mandatory"],
            ["no-host-path-node-runtime", "mandatory"],
            ["no-privileged-networking", "mandatory"],
            ["tailscale-exit-node-by-ip", "mandatory"],
            ["tailscale-userspace-only", "mandatory"],
            ["no-opaque-pod-template", "mandatory"],
            ["no-in-cluster-node-upgrade", "mandatory"],
            ["helm-release-opaque", "advisory"],
            ["operator-resource-opaque", "advisory"],
            ["guardrails-notices", "advisory"],
        ]);
    });

    it("keeps the entry file tiny: config, rules, one PolicyPack", () => {
        const code = readFileSync(join(ROOT, "policies", "index.ts"), "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "" && !l.trim().startsWith("//"));
        expect(code.length).toBeLessThanOrEqual(8);
        expect(code.filter((l) => l.includes("new PolicyPack"))).toHaveLength(1);
    });
});

describe("unknown values at preview", () => {
    const ds = (hostNetwork: unknown) => {
        const spec = compliantPodSpec();
        spec.hostNetwork = hostNetwork;
        return daemonSet(spec);
    };

    it("an unknown hostNetwork is a mandatory violation, not a pass", () => {
        const v = packVerdictFor([{ type: "kubernetes:apps/v1:DaemonSet", props: ds(UNKNOWN_BOOL) }], guardConfig());
        expect(v.mandatory).toEqual(["daemonset-no-host-network"]);
        expect(v.messages[0]).toMatch(
            /^DaemonSet apps\/web: cannot prove spec\.template\.spec\.hostNetwork is false: its value is not known until the update runs\./,
        );
    });

    it("an unknown pod template fails every pod rule closed", () => {
        const obj = daemonSet();
        obj.spec.template = UNKNOWN_STRING;
        const v = packVerdictFor([{ type: "kubernetes:apps/v1:DaemonSet", props: obj }], guardConfig());
        expect([...v.mandatory].sort()).toEqual(
            [
                "daemonset-no-host-network",
                "no-host-path-network-state",
                "no-host-path-node-runtime",
                "no-privileged-networking",
                "tailscale-exit-node-by-ip",
                "tailscale-userspace-only",
                "workload-no-host-namespaces",
                "workload-no-host-namespaces",
            ].sort(),
        );
    });

    it("the guard config can lower unknown values to advisory, shown by the notices policy", () => {
        const v = packVerdictFor([{ type: "kubernetes:apps/v1:DaemonSet", props: ds(UNKNOWN_BOOL) }], guardConfig([], "advisory"));
        expect(v.mandatory).toEqual([]);
    });
});

describe("Pulumi-only types", () => {
    it("a DaemonSetPatch that turns on hostNetwork is caught", () => {
        const patch = { metadata: { name: "kube-proxy", namespace: "kube-system" }, spec: { template: { spec: { hostNetwork: true } } } };
        expect(packVerdictFor([{ type: "kubernetes:apps/v1:DaemonSetPatch", props: patch }], guardConfig()).mandatory).toEqual(["daemonset-no-host-network"]);
    });

    it("a patch that does not touch the pod spec passes", () => {
        const patch = { metadata: { name: "kube-proxy", namespace: "kube-system", labels: { a: "b" } } };
        expect(packVerdictFor([{ type: "kubernetes:apps/v1:DaemonSetPatch", props: patch }], guardConfig()).mandatory).toEqual([]);
    });

    it("a helm.sh/v3 Release is reported as opaque (advisory)", () => {
        const v = packVerdictFor([{ type: "kubernetes:helm.sh/v3:Release", props: { chart: "tailscale", name: "ts" } }], guardConfig());
        expect(v.advisory).toEqual(["helm-release-opaque"]);
        expect(v.mandatory).toEqual([]);
    });

    it("ignores resources that are not Kubernetes objects", () => {
        expect(packVerdictFor([{ type: "command:remote:Command", props: { create: "hostNetwork: true" } }], guardConfig()).mandatory).toEqual([]);
    });
});

describe("guard config validation", () => {
    it("rejects an exemption without a reason or with an unknown rule ID, naming the file and field", () => {
        expect(() => guardConfig([{ kind: "DaemonSet", name: "x", policies: ["daemonset-no-hostnetwork"], reason: "" }])).toThrow(
            'test: 1 problem:\n  - exemptions[0].reason: is empty: every exemption says why it exists (got "")',
        );
        expect(() => guardConfig([{ kind: "DaemonSet", name: "x", policies: ["daemonset-no-hostnetwork"], reason: "r" }])).toThrow(
            `test: 1 problem:\n  - exemptions[0].policies[0]: "daemonset-no-hostnetwork" is not a rule ID (known: ${RULE_IDS.join(", ")})`,
        );
    });
});
