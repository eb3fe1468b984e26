// The test control plane itself, against the real API server: the controller
// manager turns a Deployment into a ReplicaSet and Pods, Pod Security admits
// them in a `restricted` namespace and refuses a privileged Pod there, and the
// guardrails' ValidatingAdmissionPolicy, rendered by the project's own builder,
// refuses the incident's DaemonSet while a compliant one gets in.
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { admissionManifests } from "../../policies/engine/admission";
import { loadGuardConfig } from "../../policies/engine/guard-config";
import { RULES } from "../../policies/rules";
import { ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl"]);

const cluster = useTestCluster();

const RESTRICTED_NS = "restricted-apps";
/** What `restricted` asks of a container, and nothing more. */
const RESTRICTED_CONTAINER = {
    name: "app",
    image: "registry.example/app:1.0",
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
};

function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}

const json = (args: string[]) => JSON.parse(mustKubectl([...args, "-o", "json"]));

/** Creates a namespace and waits for its default ServiceAccount (the ServiceAccount admission plugin needs it for Pods). */
async function namespace(name: string, labels: Record<string, string> = {}) {
    mustKubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }));
    await pollUntil(`serviceaccount ${name}/default`, () => (cluster.kubectl(["get", "serviceaccount", "default", "-n", name]).code === 0 ? true : undefined));
}

suite("controller manager and Pod Security", () => {
    beforeAll(() => namespace(RESTRICTED_NS, { "pod-security.kubernetes.io/enforce": "restricted" }));

    it("serves Kubernetes v1.33.13 and starts within seconds", () => {
        expect(JSON.parse(mustKubectl(["version", "-o", "json"])).serverVersion.gitVersion).toBe("v1.33.13");
        expect(cluster.startSeconds).toBeLessThan(60);
    });

    it("authorizes with RBAC: a service account may not create Deployments, the admin may", () => {
        const asAccount = cluster.kubectl([
            "auth",
            "can-i",
            "create",
            "deployments",
            "-n",
            RESTRICTED_NS,
            "--as",
            `system:serviceaccount:${RESTRICTED_NS}:default`,
        ]);
        expect([asAccount.code, asAccount.stdout]).toEqual([1, "no\n"]);
        const asAdmin = cluster.kubectl(["auth", "can-i", "create", "deployments", "-n", RESTRICTED_NS]);
        expect([asAdmin.code, asAdmin.stdout]).toEqual([0, "yes\n"]);
    });

    it("turns a Deployment into a ReplicaSet and Pods that restricted admits", async () => {
        const deployment = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "web", namespace: RESTRICTED_NS },
            spec: {
                replicas: 2,
                selector: { matchLabels: { app: "web" } },
                template: { metadata: { labels: { app: "web" } }, spec: { containers: [RESTRICTED_CONTAINER] } },
            },
        };
        const applied = cluster.kubectl(["apply", "-f", "-"], JSON.stringify(deployment));
        expect(applied.output).toBe("deployment.apps/web created\n");

        const pods = await pollUntil(
            "two Pods of Deployment web",
            () => {
                const items = json(["get", "pods", "-n", RESTRICTED_NS, "-l", "app=web"]).items;
                return items.length === 2 ? items : undefined;
            },
            30_000,
            () => mustKubectl(["get", "deployment,replicaset,pod,events", "-n", RESTRICTED_NS]),
        );
        const replicaSets = json(["get", "replicasets", "-n", RESTRICTED_NS, "-l", "app=web"]).items;
        expect(replicaSets).toHaveLength(1);
        const rs = replicaSets[0];
        expect(rs.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Deployment", name: "web", controller: true })]);
        for (const pod of pods) {
            expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "ReplicaSet", name: rs.metadata.name, controller: true })]);
            // No scheduler: the Pods exist (admitted) and wait for a node.
            expect(pod.status.phase).toBe("Pending");
        }
    });

    it("refuses a privileged Pod with Pod Security's message", () => {
        const pod = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "privileged", namespace: RESTRICTED_NS },
            spec: {
                containers: [
                    {
                        ...RESTRICTED_CONTAINER,
                        securityContext: { ...RESTRICTED_CONTAINER.securityContext, privileged: true, allowPrivilegeEscalation: true },
                    },
                ],
            },
        };
        const r = cluster.kubectl(["apply", "-f", "-"], JSON.stringify(pod));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe(
            'Error from server (Forbidden): error when creating "STDIN": pods "privileged" is forbidden: violates PodSecurity "restricted:latest": ' +
                'privileged (container "app" must not set securityContext.privileged=true), ' +
                'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)\n',
        );
        expect(cluster.kubectl(["get", "pod", "privileged", "-n", RESTRICTED_NS]).code).toBe(1);
    });
});

suite("the guardrails' ValidatingAdmissionPolicy in the API server", () => {
    const INCIDENT = "test/fixtures/incident/tailscale-daemonset.yaml";
    const COMPLIANT = "policies/rules/daemonset-no-host-network/fixtures/compliant.yaml";
    const config = loadGuardConfig(
        join(ROOT, "policies", "guard-config.yaml"),
        RULES.map((r) => r.id),
    );
    // What the program deploys (components/admission), rendered by the same builder.
    const { policy, binding } = admissionManifests("oceanid-guardrails", RULES, {
        config,
        excludedNamespaces: config.admissionExcludedNamespaces,
        now: new Date(),
    });
    const message = (id: string) => policy.spec.validations.find((v) => v.message.startsWith(`${id}: `))!.message;
    const vapError = (name: string, file: string, id: string, namespace = "tailscale") =>
        `Error from server (Forbidden): error when creating "${file}": daemonsets.apps "${name}" is forbidden: ` +
        `ValidatingAdmissionPolicy 'oceanid-guardrails' with binding 'oceanid-guardrails-binding' denied request: ${message(id)}. ` +
        `If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: DaemonSet, namespace: ${namespace}, name: ${name}, policies: [${id}], reason: "<why this is safe>"}].\n`;

    beforeAll(async () => {
        await namespace("tailscale");
        await namespace("apps");
        const yaml = [
            { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", ...policy },
            { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", ...binding },
        ]
            .map((m) => stringify(m, { lineWidth: 0 }))
            .join("---\n");
        expect(mustKubectl(["apply", "-f", "-"], yaml)).toBe(
            "validatingadmissionpolicy.admissionregistration.k8s.io/oceanid-guardrails created\n" +
                "validatingadmissionpolicybinding.admissionregistration.k8s.io/oceanid-guardrails-binding created\n",
        );
        // The policy takes effect once the API server has type-checked it and its admission
        // plugin has seen policy and binding: until then a hostNetwork DaemonSet still gets in.
        const canary = {
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            metadata: { name: "canary", namespace: "apps" },
            spec: {
                selector: { matchLabels: { app: "canary" } },
                template: { metadata: { labels: { app: "canary" } }, spec: { hostNetwork: true, containers: [RESTRICTED_CONTAINER] } },
            },
        };
        let last = "";
        await pollUntil(
            "the admission policy in effect",
            () => {
                last = cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify(canary)).output;
                return last.includes("ValidatingAdmissionPolicy 'oceanid-guardrails'") ? true : undefined;
            },
            30_000,
            () => last,
        );
    });

    it("type-checks every expression without a warning", () => {
        const status = json(["get", "validatingadmissionpolicy", "oceanid-guardrails"]).status;
        expect(status.observedGeneration).toBe(1);
        expect(status.typeChecking).toEqual({});
    });

    it("refuses the incident's DaemonSet with the rule ID in the message", () => {
        const r = cluster.kubectl(["apply", "--dry-run=server", "-f", INCIDENT]);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(vapError("tailscale-worker", INCIDENT, "daemonset-no-host-network"));
    });

    it("accepts the compliant DaemonSet", () => {
        const r = cluster.kubectl(["apply", "--dry-run=server", "-f", COMPLIANT]);
        expect(r.output).toBe("daemonset.apps/node-agent created (server dry run)\n");
    });
});
