import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type Registered } from "../helpers/mock-runtime";

let resources: Registered[];
let program: Awaited<ReturnType<typeof runProgram>>["program"];

beforeAll(async () => {
    ({ resources, program } = await runProgram("dev"));
});

const byType = (type: string) => resources.filter((r) => r.type === type);

describe("index.ts on the dev stack", () => {
    it("renders Kubernetes objects to rendered/dev instead of contacting a cluster", () => {
        const providers = byType("pulumi:providers:kubernetes");
        expect(providers.map((p) => p.name)).toEqual(["oceanid"]);
        expect(providers[0].inputs.renderYamlToDirectory).toBe("rendered/dev");
        expect(providers[0].inputs.kubeconfig).toBeUndefined();
    });

    it("makes one ClusterNode per node, each with a retained NodePatch named from it", () => {
        expect(byType("oceanid:nodes:ClusterNode").map((r) => r.name)).toEqual(["srv712429", "srv712695", "calypso"]);
        const patches = byType("kubernetes:core/v1:NodePatch");
        expect(patches.map((p) => p.name)).toEqual(["srv712429-labels", "srv712695-labels", "calypso-labels"]);
        expect(patches.map((p) => p.inputs.metadata.name)).toEqual(["srv712429", "srv712695", "calypso"]);
    });

    it("applies configured labels and taints, and marks only the canary", () => {
        const patch = (node: string) => byType("kubernetes:core/v1:NodePatch").find((p) => p.inputs.metadata.name === node)!;
        expect(patch("calypso").inputs.metadata.labels).toEqual({ "oceanid.io/site": "home", "oceanid.io/gpu": "true" });
        expect(patch("calypso").inputs.spec.taints).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]);
        expect(patch("srv712695").inputs.metadata.labels).toEqual({ "oceanid.io/site": "vps", "oceanid.io/canary": "true" });
        expect(patch("srv712429").inputs.spec.taints).toEqual([]);
    });

    it("reads no Node in render mode: the patch records its labels and taints as the program's, and forces the apply", () => {
        expect(byType("kubernetes:core/v1:Node")).toEqual([]);
        const calypso = byType("kubernetes:core/v1:NodePatch").find((p) => p.inputs.metadata.name === "calypso")!;
        expect(calypso.inputs.metadata.annotations).toEqual({
            "pulumi.com/patchForce": "true",
            "oceanid.io/owned": '{"labels":["oceanid.io/gpu","oceanid.io/site"],"taints":["nvidia.com/gpu:NoSchedule"]}',
        });
        expect(calypso.dependsOn).toEqual([]);
    });

    it("deploys the guardrails admission policy with a Deny+Audit binding that skips kube-system", () => {
        expect(byType("oceanid:guardrails:Admission").map((r) => r.name)).toEqual(["oceanid-guardrails"]);
        const [policy] = byType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        expect(policy.name).toBe("oceanid-guardrails-policy");
        expect(policy.inputs.spec.failurePolicy).toBe("Fail");
        expect(policy.inputs.spec.validations.map((v: { message: string }) => v.message.split(":")[0])).toEqual([
            "daemonset-no-host-network",
            "workload-no-host-namespaces",
            "no-host-path-network-state",
            "no-host-path-node-runtime",
            "no-privileged-networking",
            "tailscale-exit-node-by-ip",
            "tailscale-userspace-only",
            "no-opaque-pod-template",
            "no-in-cluster-node-upgrade",
        ]);
        const [binding] = byType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        expect(binding.inputs.spec.validationActions).toEqual(["Deny", "Audit"]);
        expect(binding.inputs.spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual(["kube-system"]);
    });

    it("deploys the egress gateway with its policies first, and no auth-key Secret into rendered files", () => {
        expect(byType("oceanid:network:EgressGateway").map((r) => r.name)).toEqual(["egress-gateway"]);
        expect(byType("kubernetes:core/v1:Secret")).toEqual([]);
        expect(
            byType("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                .map((p) => `${p.inputs.metadata.namespace}/${p.inputs.metadata.name}`)
                .sort(),
        ).toEqual([
            "apps/egress-gateway-only",
            "egress-gateway/egress-gateway-default-deny",
            "egress-gateway/egress-gateway-egress",
            "egress-gateway/egress-gateway-ingress",
        ]);
        const [deployment] = byType("kubernetes:apps/v1:Deployment");
        expect(deployment.inputs.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "TS_EXTRA_ARGS").value).toBe(
            "--exit-node=100.64.0.10",
        );
        // No log upload to Tailscale unless the stack says so (egress.tailscaleLogs).
        expect(deployment.inputs.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "TS_NO_LOGS_NO_SUPPORT").value).toBe("true");
        expect(program.egressProxyEnv!.HTTPS_PROXY).toBe("http://egress-gateway.egress-gateway.svc.cluster.local:1055");
    });

    it("never connects to a node: nodeAccess none makes no commands", () => {
        expect(resources.filter((r) => r.type.startsWith("command:"))).toEqual([]);
        expect(byType("oceanid:nodes:K3sAgent")).toEqual([]);
        expect(program.nodesWithoutOutOfBand).toEqual({});
    });

    it("exports the rollout order: server, canary, then the other agents", () => {
        expect(program.nodeRolloutOrder).toEqual(["srv712429", "srv712695", "calypso"]);
        expect(program.kubernetesTarget).toBe("render:rendered/dev");
    });
});
