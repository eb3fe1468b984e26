// The program deployed for real: `pulumi up` of an e2e stack (the dev topology,
// kubernetes.mode "cluster") with the policy pack into the test control plane,
// checked with kubectl; a second preview finds nothing to change; destroy removes
// everything of the program's and leaves the Nodes with their retained labels.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { gatewayPolicies, optInPolicy } from "../../components/network/gateway-network-policies";
import { gatewaySettings } from "../../components/network/egress-gateway";
import { e2eWorkspace, pulumiAsync } from "../helpers/deploy-stack";
import { standInKubelet, type StandInKubelet } from "../helpers/deploy-kubelet";
import type { Workspace } from "../helpers/pulumi-cli";
import { readStackFile, ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl", "pulumi"]);

// Without kubelets the node-lifecycle controller would taint every Node unreachable after
// ~50 s, in the middle of this file: real nodes are Ready, so their taints are only ours.
process.env.OCEANID_TEST_CLUSTER_CONTROLLERS = "*,-node-lifecycle-controller";
const cluster = useTestCluster();

const PACK = join(ROOT, "policies");
const GATEWAY_NS = "egress-gateway";
/** Added by the API server to every new Node; a kubelet's first Ready status gets it removed. */
const NOT_READY = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };
const devNodes = readStackFile("dev")["oceanid:nodes"] as Array<{
    name: string;
    canary?: boolean;
    labels: Record<string, string>;
    taints?: unknown[];
    addresses: Record<string, string>;
}>;
const egress = readStackFile("dev")["oceanid:egress"] as { exitNode: string; namespaces: string[] };
/** Where the scheduler could put the gateway: nodes without taints. */
const untainted = devNodes.filter((n) => (n.taints ?? []).length === 0).map((n) => n.name);

function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}
const json = (args: string[]) => JSON.parse(mustKubectl([...args, "-o", "json"]));
const names = (args: string[]) => (json(args).items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name).sort();

/** The pack runs the compiled rules (dist/), refusing a build older than a source: compile right before. */
function build(): void {
    const r = spawnSync("bash", ["scripts/with-tools", "node", "scripts/build.mjs"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm run build failed: ${r.stdout}${r.stderr}`);
}

const seconds: Record<string, number> = {};
async function timed<T>(step: string, f: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
        return await f();
    } finally {
        seconds[step] = (Date.now() - t0) / 1000;
    }
}

suite("pulumi up of the e2e stack into the test cluster", () => {
    let ws: Workspace;
    let kubelet: StandInKubelet;
    let upOutput = "";

    beforeAll(async () => {
        seconds["cluster start"] = cluster.startSeconds;
        build();
        // k3s registers the Nodes; the program only labels and taints them. The opted-in
        // namespace belongs to its workloads, so it exists before the program runs.
        for (const n of devNodes) {
            mustKubectl(
                ["create", "-f", "-"],
                JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name } } }),
            );
        }
        for (const ns of egress.namespaces) mustKubectl(["create", "namespace", ns]);
        ws = await timed("stack setup", () => e2eWorkspace(readFileSync(cluster.kubeconfig, "utf8")));
        kubelet = standInKubelet(cluster, GATEWAY_NS, untainted);
    }, 120_000);

    afterAll(async () => {
        await kubelet?.stop();
        console.log(
            `deploy timings (s): ${Object.entries(seconds)
                .map(([k, v]) => `${k} ${v.toFixed(1)}`)
                .join(", ")}`,
        );
    });

    it("`pulumi up --yes` with the policy pack creates every resource", async () => {
        const r = await timed("up", () => pulumiAsync(ws, ["up", "--yes", "--skip-preview", "--policy-pack", PACK]));
        upOutput = r.output;
        expect(r.code, r.output).toBe(0);
        expect(r.output).toContain("✅ oceanid-guardrails@v0.1.0");
        expect(r.output).toMatch(/Resources:\s+\+ 21 created/);
        expect(kubelet.errors).toEqual([]);
    }, 300_000);

    it("the gateway namespace enforces Pod Security restricted", () => {
        expect(json(["get", "namespace", GATEWAY_NS]).metadata.labels).toEqual({
            "kubernetes.io/metadata.name": GATEWAY_NS,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
        });
        const privileged = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "privileged", namespace: GATEWAY_NS },
            spec: { containers: [{ name: "c", image: "registry.example/c:1", securityContext: { privileged: true } }] },
        };
        const r = cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify(privileged));
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
            'pods "privileged" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)',
        );
    });

    it("the controller manager turned the Deployment into a ReplicaSet and two admitted Pods", () => {
        const deployment = json(["get", "deployment", "egress-gateway", "-n", GATEWAY_NS]);
        expect(deployment.spec.replicas).toBe(2);
        expect(deployment.status).toMatchObject({ replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2 });
        const replicaSets = json(["get", "replicasets", "-n", GATEWAY_NS]).items;
        expect(replicaSets).toHaveLength(1);
        expect(replicaSets[0].metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Deployment", name: "egress-gateway", controller: true })]);
        const pods = json(["get", "pods", "-n", GATEWAY_NS]).items;
        expect(pods).toHaveLength(2);
        for (const pod of pods) {
            expect(pod.metadata.ownerReferences).toEqual([
                expect.objectContaining({ kind: "ReplicaSet", name: replicaSets[0].metadata.name, controller: true }),
            ]);
            expect(pod.spec.hostNetwork).toBeUndefined();
            expect(pod.spec.containers.map((c: { securityContext: unknown }) => c.securityContext)).toEqual([
                { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
            ]);
        }
        expect([...kubelet.bound.values()].sort()).toEqual([...untainted].sort());
    });

    it("the Service has the Pods as endpoints, and the PDB keeps one of them", () => {
        const svc = json(["get", "service", "egress-gateway", "-n", GATEWAY_NS]);
        expect(svc.spec.type).toBe("ClusterIP");
        expect(svc.spec.ports).toEqual([{ name: "proxy", port: 1055, targetPort: "proxy", protocol: "TCP" }]);
        const slices = json(["get", "endpointslices", "-n", GATEWAY_NS, "-l", "kubernetes.io/service-name=egress-gateway"]).items;
        expect(slices.flatMap((s: { endpoints: Array<{ addresses: string[] }> }) => s.endpoints.flatMap((e) => e.addresses))).toHaveLength(2);
        const pdb = json(["get", "poddisruptionbudget", "egress-gateway", "-n", GATEWAY_NS]);
        expect(pdb.spec.minAvailable).toBe(1);
        expect(pdb.spec.selector).toEqual({ matchLabels: { "app.kubernetes.io/name": "egress-gateway", "app.kubernetes.io/instance": "egress-gateway" } });
    });

    it("the NetworkPolicies are in place as built", () => {
        const s = gatewaySettings("egress-gateway", {
            exitNode: egress.exitNode,
            optInNamespaces: egress.namespaces,
            // As index.ts picks each node's address: LAN, else public, else Tailscale.
            probeSources: devNodes.map((n) => n.addresses.lan ?? n.addresses.public ?? n.addresses.tailscale),
        });
        expect(names(["get", "networkpolicies", "-n", GATEWAY_NS])).toEqual(["egress-gateway-default-deny", "egress-gateway-egress", "egress-gateway-ingress"]);
        for (const p of gatewayPolicies(s)) {
            expect(json(["get", "networkpolicy", p.metadata.name, "-n", GATEWAY_NS]).spec).toEqual(p.spec);
        }
        for (const ns of egress.namespaces) {
            expect(json(["get", "networkpolicy", "egress-gateway-only", "-n", ns]).spec).toEqual(optInPolicy(s, ns).spec);
        }
    });

    it("the ValidatingAdmissionPolicy and its binding refuse the incident's DaemonSet", async () => {
        expect(json(["get", "validatingadmissionpolicybinding", "oceanid-guardrails-binding"]).spec).toMatchObject({
            policyName: "oceanid-guardrails",
            validationActions: ["Deny", "Audit"],
        });
        await pollUntil("the policy type-checked", () =>
            json(["get", "validatingadmissionpolicy", "oceanid-guardrails"]).status?.observedGeneration === 1 ? true : undefined,
        );
        expect(json(["get", "validatingadmissionpolicy", "oceanid-guardrails"]).status.typeChecking).toEqual({});
        const incident = "test/fixtures/incident/tailscale-daemonset.yaml";
        mustKubectl(["create", "namespace", "tailscale"]);
        let last = "";
        await pollUntil(
            "the incident's DaemonSet refused",
            () => {
                last = cluster.kubectl(["apply", "--dry-run=server", "-f", incident]).stderr;
                return last.includes(
                    "ValidatingAdmissionPolicy 'oceanid-guardrails' with binding 'oceanid-guardrails-binding' denied request: daemonset-no-host-network:",
                )
                    ? true
                    : undefined;
            },
            30_000,
            () => last,
        );
        mustKubectl(["delete", "namespace", "tailscale", "--wait=false"]);
    });

    it("the Nodes carry the stack's labels, and the untainted ones keep the API server's own taint", () => {
        for (const n of devNodes) {
            const node = json(["get", "node", n.name]);
            expect(node.metadata.labels).toEqual({ "kubernetes.io/hostname": n.name, ...n.labels, ...(n.canary ? { "oceanid.io/canary": "true" } : {}) });
            if ((n.taints ?? []).length === 0) expect(node.spec.taints).toEqual([NOT_READY]);
        }
    });

    // spec.taints is an atomic list: the server-side-applied patch replaces it whole, so a
    // tainted node loses every taint the program does not set (here the not-ready one).
    it.fails("a tainted Node keeps the taints the program does not own", () => {
        for (const n of devNodes.filter((n) => (n.taints ?? []).length > 0)) {
            const taints = json(["get", "node", n.name]).spec.taints;
            expect(taints).toEqual(expect.arrayContaining([NOT_READY, ...n.taints!]));
            expect(taints).toHaveLength(n.taints!.length + 1);
        }
    });

    it("no secret is in the output or the state", async () => {
        const exported = await pulumiAsync(ws, ["stack", "export"]);
        expect(exported.code, exported.output).toBe(0);
        const kubeconfig = parse(readFileSync(cluster.kubeconfig, "utf8"));
        const clientKey: string = kubeconfig.users[0].user["client-key-data"];
        const authKey = (await pulumiAsync(ws, ["config", "get", "oceanid:tailscaleAuthKey"])).stdout.trim();
        expect(authKey).toBe("dev-dummy-auth-key-not-a-real-credential");
        for (const text of [upOutput, exported.stdout]) {
            expect(text).not.toContain(clientKey);
            expect(text).not.toContain(authKey);
        }
        expect(Buffer.from(json(["get", "secret", "egress-gateway-authkey", "-n", GATEWAY_NS]).data.authkey, "base64").toString()).toBe(authKey);
    });

    it("a second preview finds nothing to change", async () => {
        build();
        const r = await timed("preview", () => pulumiAsync(ws, ["preview", "--expect-no-changes", "--policy-pack", PACK]));
        expect(r.code, r.output).toBe(0);
        expect(r.output).toMatch(/Resources:\s+21 unchanged/);
    }, 300_000);

    it("`pulumi destroy` removes everything of the program's and keeps the Nodes as labelled", async () => {
        const r = await timed("destroy", () => pulumiAsync(ws, ["destroy", "--yes", "--skip-preview"]));
        expect(r.code, r.output).toBe(0);
        expect(r.output).toMatch(/Resources:\s+- 21 deleted/);
        expect(cluster.kubectl(["get", "namespace", GATEWAY_NS]).stderr).toContain(`namespaces "${GATEWAY_NS}" not found`);
        expect(names(["get", "validatingadmissionpolicies"])).toEqual([]);
        expect(names(["get", "validatingadmissionpolicybindings"])).toEqual([]);
        for (const ns of egress.namespaces) expect(names(["get", "networkpolicies", "-n", ns])).toEqual([]);
        expect(names(["get", "nodes"])).toEqual(devNodes.map((n) => n.name).sort());
        const calypso = devNodes.find((n) => (n.taints ?? []).length > 0)!;
        const node = json(["get", "node", calypso.name]);
        expect(node.metadata.labels).toMatchObject(calypso.labels);
        expect(node.spec.taints).toEqual(expect.arrayContaining(calypso.taints!));
        expect(kubelet.errors).toEqual([]);
    }, 300_000);
});
