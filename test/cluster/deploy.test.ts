// The program deployed for real: `pulumi up` of an e2e stack (the dev topology,
// kubernetes.mode "cluster") with the policy pack into the test control plane,
// checked with kubectl; the taints Kubernetes and others set survive a second `up`
// that changes the program's own; previews find nothing to change, whatever others
// did to their taints meanwhile; destroy removes everything of the program's and
// leaves the Nodes with their retained labels and taints.
import { mkdtempSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { gatewayPolicies, optInPolicy } from "../../components/network/gateway-network-policies";
import { gatewaySettings } from "../../components/network/egress-gateway";
import { e2eWorkspace, pulumiAsync } from "../helpers/deploy-stack";
import { standInKubelet, type StandInKubelet } from "../helpers/deploy-kubelet";
import { standInNodeStatus, type StandInNodeStatus } from "../helpers/deploy-node-status";
import { runAsync, TOOLS_BIN } from "../helpers/pulumi-cli";
import type { Workspace } from "../helpers/pulumi-cli";
import { readStackFile, ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl", "pulumi"]);

// Every controller runs, the node-lifecycle one among them: it sets the taints of Kubernetes
// this file keeps (not-ready, a cordon's unschedulable). The Nodes' Leases and Ready
// conditions come from test/helpers/deploy-node-status.ts, so none turns unreachable.
process.env.OCEANID_TEST_CLUSTER_CONTROLLERS = "*";
// `--event-log` (for the time between a Node's read and its patch) is one of the CLI's debug flags.
process.env.PULUMI_DEBUG_COMMANDS = "true";
const cluster = useTestCluster();

const PACK = join(ROOT, "policies");
const GATEWAY_NS = "egress-gateway";

interface Taint {
    key: string;
    value?: string;
    effect: string;
    timeAdded?: string;
}
const devNodes = readStackFile("dev")["oceanid:nodes"] as Array<{
    name: string;
    canary?: boolean;
    labels: Record<string, string>;
    taints?: Taint[];
    addresses: Record<string, string>;
}>;
const egress = readStackFile("dev")["oceanid:egress"] as { exitNode: string; namespaces: string[] };
/** Where the scheduler could put the gateway: nodes without taints. */
const untainted = devNodes.filter((n) => (n.taints ?? []).length === 0).map((n) => n.name);
/** The node with taints in config; its kubelet reports NotReady, so Kubernetes taints it too. */
const TAINTED = devNodes.findIndex((n) => (n.taints ?? []).length > 0);
const tainted = devNodes[TAINTED].name;
/** A Ready node that gets cordoned between the two `up`s. */
const cordoned = untainted[1];
const GPU: Taint = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" };
const DEDICATED: Taint = { key: "oceanid.io/dedicated", value: "ml", effect: "PreferNoSchedule" };
/** The second `up`'s config: DEDICATED removed, GPU's value changed. */
const GPU_A100: Taint = { ...GPU, value: "a100" };
/** Another manager's taint, added with `kubectl taint`. */
const MAINTENANCE: Taint = { key: "example.com/maintenance", value: "planned", effect: "NoSchedule" };
const id = (t: Taint) => `${t.key}:${t.effect}`;

function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}
const json = (args: string[]) => JSON.parse(mustKubectl([...args, "-o", "json"]));
const names = (args: string[]) => (json(args).items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name).sort();
const taintsOf = (node: string): Taint[] => json(["get", "node", node]).spec.taints ?? [];

/**
 * Every version of every Node the API server hands out while it runs (a watch misses none),
 * as name and taints: started once the initial list is in, stopped by `stop()`.
 */
async function watchNodeTaints(): Promise<{ stop(): Promise<Array<{ node: string; taints: Taint[] }>> }> {
    let child: ChildProcess | undefined;
    let seen = "";
    // kubectl aligns tab-separated columns with spaces: "|" separates name and taints instead.
    const template = '{.metadata.name}{"|"}{.spec.taints}{"\\n"}';
    const done = runAsync(join(TOOLS_BIN, "kubectl"), ["--kubeconfig", cluster.kubeconfig, "get", "nodes", "--watch", "-o", `jsonpath=${template}`], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: cluster.dir, LANG: "C" },
        started: (c) => {
            child = c;
            c.stdout!.on("data", (d) => (seen += d));
        },
    });
    await pollUntil(
        "the Node watch listing every Node",
        () => (devNodes.every((n) => seen.includes(`${n.name}|`)) ? true : undefined),
        30_000,
        () => seen,
    );
    return {
        async stop() {
            child!.kill("SIGTERM");
            const r = await done;
            return r.stdout
                .split("\n")
                .filter((line) => line !== "")
                .map((line) => {
                    const [node, taints] = line.split("|");
                    return { node, taints: taints === "" ? [] : (JSON.parse(taints) as Taint[]) };
                });
        },
    };
}

/** Seconds between the engine's read of a Node and the start of its patch, from an event log. */
function readToPatchSeconds(eventLog: string, node: string): number {
    const events = readFileSync(eventLog, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, any>);
    const at = (kind: string, name: string) => events.find((e) => e[kind]?.metadata?.urn?.endsWith(`::${name}`))?.timestamp as number;
    return at("resourcePreEvent", `${node}-labels`) - at("resOutputsEvent", `${node}-live`);
}

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
    let nodeStatus: StandInNodeStatus;
    let upOutput = "";
    /** The tainted node's taints as Kubernetes set them, before the program ran. */
    let kubernetesTaints: Taint[] = [];

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
        nodeStatus = await standInNodeStatus(cluster, Object.fromEntries(devNodes.map((n) => [n.name, n.name !== tainted])));
        // The node-lifecycle controller's taints, settled: not-ready (NoSchedule and NoExecute) on
        // the NotReady node, none on the Ready ones (it removed the API server's not-ready there).
        kubernetesTaints = await pollUntil(
            "the node-lifecycle controller tainting the NotReady node only",
            () => {
                const taints = taintsOf(tainted);
                const settled =
                    taints.map(id).sort().join() === "node.kubernetes.io/not-ready:NoExecute,node.kubernetes.io/not-ready:NoSchedule" &&
                    untainted.every((n) => taintsOf(n).length === 0);
                return settled ? taints : undefined;
            },
            60_000,
            () => JSON.stringify(devNodes.map((n) => [n.name, taintsOf(n.name)])),
        );
        for (const ns of egress.namespaces) mustKubectl(["create", "namespace", ns]);
        ws = await timed("stack setup", () => e2eWorkspace(readFileSync(cluster.kubeconfig, "utf8")));
        ws.editConfig(["oceanid:nodes", TAINTED, "taints"], [GPU, DEDICATED]);
        kubelet = standInKubelet(cluster, GATEWAY_NS, untainted);
    }, 120_000);

    afterAll(async () => {
        await kubelet?.stop();
        await nodeStatus?.stop();
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

    it("the Nodes carry the stack's labels and the record of what is the program's; the Ready ones no taints", () => {
        for (const n of devNodes) {
            const node = json(["get", "node", n.name]);
            const labels = { ...n.labels, ...(n.canary ? { "oceanid.io/canary": "true" } : {}) };
            expect(node.metadata.labels).toEqual({ "kubernetes.io/hostname": n.name, ...labels });
            const taints = n.name === tainted ? [GPU, DEDICATED] : [];
            expect(node.metadata.annotations["oceanid.io/owned"]).toBe(JSON.stringify({ labels: Object.keys(labels).sort(), taints: taints.map(id).sort() }));
            if (n.name !== tainted) expect(node.spec.taints).toBeUndefined();
        }
    });

    it("the NotReady node keeps Kubernetes' not-ready taints as they were, with the configured ones after them", () => {
        expect(taintsOf(tainted)).toEqual([...kubernetesTaints, GPU, DEDICATED]);
    });

    it("others change their taints (a cordon, `kubectl taint`): previews, refreshed or not, find nothing to change", async () => {
        mustKubectl(["cordon", cordoned]);
        mustKubectl(["taint", "node", tainted, `${MAINTENANCE.key}=${MAINTENANCE.value}:${MAINTENANCE.effect}`]);
        await pollUntil("the node-lifecycle controller tainting the cordoned node", () =>
            taintsOf(cordoned).some((t) => id(t) === "node.kubernetes.io/unschedulable:NoSchedule") ? true : undefined,
        );
        const refreshed = await timed("preview --refresh", () => pulumiAsync(ws, ["preview", "--refresh", "--expect-no-changes", "--policy-pack", PACK]));
        expect(refreshed.code, refreshed.output).toBe(0);
        expect(refreshed.output).toMatch(/Resources:\s+21 unchanged/);
        const plain = await pulumiAsync(ws, ["preview", "--expect-no-changes", "--policy-pack", PACK]);
        expect(plain.code, plain.output).toBe(0);
        expect(plain.output).toMatch(/Resources:\s+21 unchanged/);
    }, 300_000);

    it("a second `up` removes and changes the program's taints only, and no other taint is gone at any moment", async () => {
        ws.editConfig(["oceanid:nodes", TAINTED, "taints"], [GPU_A100]);
        const before = Object.fromEntries(devNodes.map((n) => [n.name, taintsOf(n.name)]));
        // kubectl taint puts its taint first.
        expect(before[tainted]).toEqual([expect.objectContaining(MAINTENANCE), ...kubernetesTaints, GPU, DEDICATED]);
        const maintenance = before[tainted][0];
        const unschedulable = before[cordoned].find((t) => id(t) === "node.kubernetes.io/unschedulable:NoSchedule")!;
        const watch = await watchNodeTaints();
        const eventLog = join(mkdtempSync(join(ws.dir, "events-")), "up.jsonl");
        const r = await timed("second up", () => pulumiAsync(ws, ["up", "--yes", "--skip-preview", "--policy-pack", PACK, "--event-log", eventLog]));
        const versions = await watch.stop();
        expect(r.code, r.output).toBe(0);
        // Only the tainted node's patch: the cordoned node's has nothing to change.
        expect(r.output).toMatch(/Resources:\s+~ 1 updated\s+20 unchanged/);
        expect(r.output).toContain(`~  kubernetes:core/v1:NodePatch ${tainted}-labels updated`);
        seconds["read to patch"] = readToPatchSeconds(eventLog, tainted);

        expect(taintsOf(tainted)).toEqual([maintenance, ...kubernetesTaints, GPU_A100]);
        expect(taintsOf(cordoned)).toEqual(before[cordoned]);
        expect(json(["get", "node", tainted]).metadata.annotations["oceanid.io/owned"]).toBe(
            JSON.stringify({ labels: Object.keys(devNodes[TAINTED].labels).sort(), taints: [id(GPU_A100)] }),
        );
        // Every version the API server handed out during the up (the watch's initial list among
        // them): the program's change is there, and Kubernetes' and the other manager's taints
        // were in each version, as they were.
        const ofTainted = versions.filter((v) => v.node === tainted).map((v) => v.taints);
        expect(ofTainted.map((taints) => taints.filter((t) => [GPU.key, DEDICATED.key].includes(t.key)))).toContainEqual([GPU_A100]);
        for (const taints of ofTainted) expect(taints).toEqual(expect.arrayContaining([...kubernetesTaints, maintenance]));
        for (const v of versions.filter((v) => v.node === cordoned)) expect(v.taints).toContainEqual(unschedulable);
        expect(versions.map((v) => v.node)).toEqual(expect.arrayContaining(devNodes.map((n) => n.name)));
        expect(nodeStatus.errors).toEqual([]);
    }, 300_000);

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

    it("a preview right after finds nothing to change", async () => {
        build();
        const r = await timed("preview", () => pulumiAsync(ws, ["preview", "--expect-no-changes", "--policy-pack", PACK]));
        expect(r.code, r.output).toBe(0);
        expect(r.output).toMatch(/Resources:\s+21 unchanged/);
    }, 300_000);

    it("Kubernetes removing its taint (an uncordon) shows no drift either", async () => {
        mustKubectl(["uncordon", cordoned]);
        await pollUntil("the node-lifecycle controller untainting the uncordoned node", () => (taintsOf(cordoned).length === 0 ? true : undefined));
        const r = await pulumiAsync(ws, ["preview", "--refresh", "--expect-no-changes", "--policy-pack", PACK]);
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
        const node = json(["get", "node", tainted]);
        expect(node.metadata.labels).toMatchObject(devNodes[TAINTED].labels);
        expect(node.spec.taints).toEqual([expect.objectContaining(MAINTENANCE), ...kubernetesTaints, GPU_A100]);
        expect(kubelet.errors).toEqual([]);
        expect(nodeStatus.errors).toEqual([]);
    }, 300_000);
});
