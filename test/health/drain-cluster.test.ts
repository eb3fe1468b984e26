// drain, uncordon and check mode against the real API server (scripts/test-cluster): the
// Eviction API with a PodDisruptionBudget the disruption controller keeps current, the ReplicaSet
// controller recreating evicted pods on another node, a DaemonSet and a mirror pod that stay, a
// cordon someone else set, and the agent preflight reading the server Node's kubeletVersion.
// test/health/pod-binder.ts plays scheduler and kubelets. The preflight and an uncordon run as the
// built command in a process of their own; the rest through main().
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { V1Pod } from "@kubernetes/client-node";
import type { HealthIo } from "../../components/health/cli";
import { describeNeeding } from "../helpers/needs";
import { ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { run, tmpDir, writeStackFile } from "./fixtures";
import { podBinder, type PodBinder } from "./pod-binder";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl"]);

// No kubelets: without this the node-lifecycle controller would taint every Node unreachable
// (and evict by taint) in the middle of the file.
process.env.OCEANID_TEST_CLUSTER_CONTROLLERS = "*,-node-lifecycle-controller";
const cluster = useTestCluster();

const SERVER = "srv712429";
const AGENT = "srv712695";
const OTHER = "calypso";
const VERSION = "v1.33.5+k3s1";
const NS = "apps";
const CONTAINER = { name: "app", image: "registry.example/app:1.0" };
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}
const json = (args: string[]) => JSON.parse(mustKubectl([...args, "-o", "json"]));
const apply = (obj: object) => mustKubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(obj));
const nodeObject = (name: string) => json(["get", "node", name]);
/** Pods bound to `node`, as `<namespace>/<name>` with their phase, sorted. */
const podsOn = (node: string): V1Pod[] => json(["get", "pods", "-A", "--field-selector", `spec.nodeName=${node}`]).items;
const keys = (pods: V1Pod[]) => pods.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`).sort();
const running = (pods: V1Pod[]) => pods.filter((p) => p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined);

/** Marks a Node Ready at `kubelet` (what a kubelet would post), with any more conditions. */
function nodeStatus(name: string, kubelet: string, conditions: object[] = []): void {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const status = {
        conditions: [
            {
                type: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "kubelet is posting ready status",
                lastHeartbeatTime: now,
                lastTransitionTime: now,
            },
            ...conditions,
        ],
        nodeInfo: {
            kubeletVersion: kubelet,
            kubeProxyVersion: "",
            machineID: "m",
            systemUUID: "s",
            bootID: "b",
            kernelVersion: "6.1.0",
            osImage: "Debian GNU/Linux 12 (bookworm)",
            containerRuntimeVersion: "containerd://1.7.27-k3s1",
            operatingSystem: "linux",
            architecture: "amd64",
        },
    };
    mustKubectl(["patch", "node", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

const deployment = (name: string, replicas: number) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [CONTAINER] } } },
});

/** Waits until `node` runs exactly `count` Running pods of `app`; returns their keys. */
async function appRunningOn(app: string, node: string, count: number): Promise<string[]> {
    return pollUntil(
        `${count} running pods of ${app} on ${node}`,
        () => {
            const pods = running(podsOn(node)).filter((p) => p.metadata?.labels?.app === app);
            return pods.length === count ? keys(pods) : undefined;
        },
        60_000,
        () => mustKubectl(["get", "pods", "-A", "-o", "wide"]),
    );
}

/** oceanid-health in-process, the admin kubeconfig on stdin. */
const health = (args: string[], io: Partial<HealthIo> = {}) => run(args, { readStdin: () => readFileSync(cluster.kubeconfig, "utf8"), ...io });
const drainArgs = (...extra: string[]) => ["drain", "--node", AGENT, "--change", "k3s", "--kubeconfig", "-", "--interval", "0.5", ...extra];

/** The built command in a process of its own (as `npx oceanid-health` runs it), the kubeconfig on stdin. */
function builtCommand(args: string[]) {
    const t0 = Date.now();
    const p = spawnSync(process.execPath, [join(ROOT, "components", "health", "oceanid-health.cjs"), ...args], {
        input: readFileSync(cluster.kubeconfig, "utf8"),
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOME: cluster.dir },
    });
    return { code: p.status, stdout: p.stdout, stderr: p.stderr, seconds: (Date.now() - t0) / 1000 };
}

suite("drain, uncordon and check mode against the API server", () => {
    let binder: PodBinder;
    /** Where the binder puts new pods; undefined leaves them Pending. */
    let placeOn: string | undefined = AGENT;
    const held = new Set<string>();

    beforeAll(async () => {
        // The launcher runs the compiled build, which refuses to be older than the sources.
        const b = spawnSync("bash", ["scripts/with-tools", "node", "scripts/build.mjs"], { cwd: ROOT, encoding: "utf8" });
        if (b.status !== 0) throw new Error(`npm run build failed: ${b.stdout}${b.stderr}`);
        for (const name of [SERVER, AGENT, OTHER]) {
            mustKubectl(
                ["create", "-f", "-"],
                JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } } }),
            );
            nodeStatus(name, VERSION);
        }
        mustKubectl(["create", "namespace", NS]);
        await pollUntil(`serviceaccount ${NS}/default`, () => (cluster.kubectl(["get", "serviceaccount", "default", "-n", NS]).code === 0 ? true : undefined));
        binder = podBinder(cluster.kubeconfig, {
            namespaces: [NS, "kube-system"],
            place: () => placeOn,
            holdTerminating: (pod) => held.has(pod.metadata?.labels?.app ?? ""),
        });
    }, 120_000);

    afterAll(async () => {
        await binder?.stop();
    });

    it("the agent preflight reads the server Node's kubeletVersion (the built command)", () => {
        const preflight = (target: string, server = SERVER) =>
            builtCommand([...drainArgs("--timeout", "30", "--no-drain"), "--agent-of", server, "--version", target]);
        const ok = preflight("v1.32.9+k3s1");
        expect(ok).toMatchObject({
            code: 0,
            stdout: `preflight ok: the server ${SERVER} runs ${VERSION}\ndrain: skipped for ${AGENT} (nodeChanges.drain is false)\n`,
            stderr: "",
        });
        // It exits when done: no connection pool keeps it alive.
        expect(ok.seconds).toBeLessThan(10);
        expect(preflight("v1.33.6+k3s1")).toMatchObject({
            code: 1,
            stdout: "",
            stderr:
                `PREFLIGHT FAILED node=${AGENT} reason=the server ${SERVER} runs ${VERSION} (as the API server reports it); ` +
                "agents must not be newer than the server: upgrade the server first\n",
        });
        expect(preflight("v1.31.9+k3s1")).toMatchObject({
            code: 1,
            stderr: `PREFLIGHT FAILED node=${AGENT} reason=the server ${SERVER} runs ${VERSION} (as the API server reports it); v1.31.9+k3s1 is more than one minor release behind it\n`,
        });
        expect(preflight(VERSION, "tethys")).toMatchObject({
            code: 1,
            stderr: `PREFLIGHT FAILED node=${AGENT} reason=the server tethys is not registered in the API server\n`,
        });
        // What the API server reports decides, not the stack config: the server runs an older release.
        nodeStatus(SERVER, "v1.33.4+k3s1");
        try {
            expect(preflight(VERSION).stderr).toBe(
                `PREFLIGHT FAILED node=${AGENT} reason=the server ${SERVER} runs v1.33.4+k3s1 (as the API server reports it); ` +
                    "agents must not be newer than the server: upgrade the server first\n",
            );
            nodeStatus(SERVER, "v1.33.5");
            expect(preflight(VERSION).stderr).toBe(
                `PREFLIGHT FAILED node=${AGENT} reason=the server ${SERVER} reports kubelet version 'v1.33.5', which is not a k3s release\n`,
            );
        } finally {
            nodeStatus(SERVER, VERSION);
        }
    });

    it("evicts a Deployment's pods to another node; a DaemonSet pod and a mirror pod stay; the node ends cordoned by the change", async () => {
        apply(deployment("web", 2));
        apply({
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            metadata: { name: "node-agent", namespace: NS },
            spec: {
                selector: { matchLabels: { app: "node-agent" } },
                template: { metadata: { labels: { app: "node-agent" } }, spec: { tolerations: [{ operator: "Exists" }], containers: [CONTAINER] } },
            },
        });
        // A static pod's API copy, as the kubelet writes it: the annotation, owned by the Node.
        apply({
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
                name: `static-web-${AGENT}`,
                namespace: "kube-system",
                annotations: { "kubernetes.io/config.mirror": "3f1c5e", "kubernetes.io/config.source": "file" },
                ownerReferences: [{ apiVersion: "v1", kind: "Node", name: AGENT, uid: nodeObject(AGENT).metadata.uid, controller: true }],
            },
            spec: { nodeName: AGENT, containers: [CONTAINER] },
        });
        const web = await appRunningOn("web", AGENT, 2);
        await appRunningOn("node-agent", AGENT, 1);
        await pollUntil("the mirror pod running", () => (running(podsOn(AGENT)).some((p) => p.metadata!.namespace === "kube-system") ? true : undefined));
        placeOn = OTHER;

        const before = Math.floor(Date.now() / 1000) * 1000;
        const r = await health(drainArgs("--timeout", "60"));
        expect(r.stdout).toBe(`drained: ${AGENT}: evicted 2 pods (${web.join(", ")}); left 2 (DaemonSet or mirror pods)\n`);
        expect(r.code).toBe(0);
        const progress = r.stderr.split("\n").slice(0, -1);
        expect(progress.slice(0, 2)).toEqual([
            `oceanid-health: drain: cordoned ${AGENT}`,
            `oceanid-health: drain: evicting 2 pods from ${AGENT}: ${web.join(", ")}`,
        ]);
        expect(progress.every((l) => l.startsWith("oceanid-health: drain: "))).toBe(true);

        const node = nodeObject(AGENT);
        expect(node.spec.unschedulable).toBe(true);
        expect(node.metadata.annotations["oceanid.io/cordoned-by"]).toBe("node-change/k3s");
        const at = node.metadata.annotations["oceanid.io/cordoned-at"];
        expect(at).toMatch(RFC3339_SECONDS);
        expect(Date.parse(at)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(at)).toBeLessThanOrEqual(Date.now());
        // What stays on the node; the Deployment runs on the other node again.
        expect(keys(podsOn(AGENT))).toEqual([expect.stringMatching(/^apps\/node-agent-/), `kube-system/static-web-${AGENT}`]);
        await appRunningOn("web", OTHER, 2);
        expect(binder.errors).toEqual([]);
    });

    it("uncordon lifts the change's cordon and nothing else; a node not cordoned or not registered is no failure", async () => {
        expect(await health(["uncordon", "--node", AGENT, "--kubeconfig", "-"])).toEqual({ code: 0, stdout: `uncordoned: ${AGENT}\n`, stderr: "" });
        const node = nodeObject(AGENT);
        expect(node.spec.unschedulable).toBeUndefined();
        expect(node.metadata.annotations ?? {}).not.toHaveProperty("oceanid.io/cordoned-by");
        expect(node.metadata.annotations ?? {}).not.toHaveProperty("oceanid.io/cordoned-at");
        expect(builtCommand(["uncordon", "--node", AGENT, "--kubeconfig", "-"])).toMatchObject({
            code: 0,
            stdout: `uncordon: ${AGENT} is not cordoned\n`,
            stderr: "",
        });
        expect(await health(["uncordon", "--node", "ghost", "--kubeconfig", "-"])).toEqual({
            code: 0,
            stdout: "uncordon: ghost is not registered\n",
            stderr: "",
        });
        expect(await health(drainArgs("--timeout", "5").map((a) => (a === AGENT ? "ghost" : a)))).toEqual({
            code: 0,
            stdout: "drain: ghost is not registered: nothing to drain\n",
            stderr: "",
        });
    });

    it("a PodDisruptionBudget that allows no disruption: the exact DRAIN FAILED line, and the node uncordoned again", async () => {
        placeOn = AGENT;
        apply(deployment("api", 2));
        const api = await appRunningOn("api", AGENT, 2);
        placeOn = OTHER;
        apply({
            apiVersion: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: { name: "api", namespace: NS },
            spec: { minAvailable: 2, selector: { matchLabels: { app: "api" } } },
        });
        // The disruption controller has counted both pods healthy and allows no disruption.
        await pollUntil("PodDisruptionBudget apps/api current", () => {
            const pdb = json(["get", "pdb", "api", "-n", NS]);
            const s = pdb.status ?? {};
            return s.observedGeneration === pdb.metadata.generation && s.currentHealthy === 2 && s.disruptionsAllowed === 0 ? true : undefined;
        });

        const r = await health(drainArgs("--timeout", "3"));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        const why = "PodDisruptionBudget apps/api allows no disruption";
        expect(r.stderr.split("\n").slice(-4)).toEqual([
            `oceanid-health: drain: waiting for ${api.map((p) => `${p} (${why})`).join(", ")}`,
            `oceanid-health: drain: uncordoned ${AGENT} again`,
            `DRAIN FAILED node=${AGENT} reason=pods did not leave within 3s: ${api.map((p) => `${p} (${why})`).join(", ")}`,
            "",
        ]);
        const node = nodeObject(AGENT);
        expect(node.spec.unschedulable).toBeUndefined();
        expect(node.metadata.annotations ?? {}).not.toHaveProperty("oceanid.io/cordoned-by");
        expect(await appRunningOn("api", AGENT, 2)).toEqual(api);
        mustKubectl(["delete", "pdb", "api", "-n", NS]);
    });

    it("a pod that stays terminating: still terminating at the timeout", async () => {
        held.add("api");
        try {
            const api = await appRunningOn("api", AGENT, 2);
            const r = await health(drainArgs("--timeout", "3"));
            expect(r.code).toBe(1);
            expect(r.stderr.split("\n").at(-2)).toBe(
                `DRAIN FAILED node=${AGENT} reason=pods did not leave within 3s: ${api.map((p) => `${p} (still terminating)`).join(", ")}`,
            );
            expect(nodeObject(AGENT).spec.unschedulable).toBeUndefined();
        } finally {
            held.delete("api");
        }
        await pollUntil("the api pods gone from the agent", () => (podsOn(AGENT).some((p) => p.metadata?.labels?.app === "api") ? undefined : true));
    });

    it("refuses a pod no controller would recreate, before any cordon", async () => {
        apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "scratch", namespace: NS }, spec: { nodeName: AGENT, containers: [CONTAINER] } });
        try {
            const r = await health(drainArgs("--timeout", "30"));
            expect(r).toEqual({
                code: 1,
                stdout: "",
                stderr: `DRAIN FAILED node=${AGENT} reason=pods with no controller would be lost: apps/scratch; delete them or set nodeChanges.drain to false\n`,
            });
            const node = nodeObject(AGENT);
            expect(node.spec.unschedulable).toBeUndefined();
            expect(node.metadata.annotations ?? {}).not.toHaveProperty("oceanid.io/cordoned-by");
        } finally {
            mustKubectl(["delete", "pod", "scratch", "-n", NS, "--grace-period=0", "--force"]);
        }
    });

    it("someone else's cordon stays: drain leaves it unannotated, uncordon leaves it in place", async () => {
        mustKubectl(["cordon", AGENT]);
        try {
            expect(await health(["uncordon", "--node", AGENT, "--kubeconfig", "-"])).toEqual({
                code: 0,
                stdout: `left cordoned: ${AGENT} was cordoned before the change, not by oceanid\n`,
                stderr: "",
            });
            const r = await health(drainArgs("--timeout", "30"));
            expect(r.stdout).toBe(`drained: ${AGENT}: evicted 0 pods; left 2 (DaemonSet or mirror pods)\n`);
            expect(r.stderr).toBe(`oceanid-health: drain: ${AGENT} was cordoned before the change, not by oceanid: it stays cordoned afterwards\n`);
            expect(r.code).toBe(0);
            expect(builtCommand(["uncordon", "--node", AGENT, "--kubeconfig", "-"])).toMatchObject({
                code: 0,
                stdout: `left cordoned: ${AGENT} was cordoned before the change, not by oceanid\n`,
            });
            const node = nodeObject(AGENT);
            expect(node.spec.unschedulable).toBe(true);
            expect(node.metadata.annotations ?? {}).not.toHaveProperty("oceanid.io/cordoned-by");
        } finally {
            mustKubectl(["uncordon", AGENT]);
        }
    });

    it("check mode reports a node change that failed to revert and the change's cordon", async () => {
        expect((await health(drainArgs("--timeout", "30"))).code).toBe(0);
        const cordonedAt = nodeObject(AGENT).metadata.annotations["oceanid.io/cordoned-at"];
        const failedAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z");
        const message = `k3s change 20260302T0930Z-1a2b: revert failed at ${failedAt}: k3s did not start within 120s`;
        nodeStatus(AGENT, VERSION, [{ type: "OceanidNodeChange", status: "True", reason: "RevertFailed", message, lastTransitionTime: failedAt }]);
        // Each kubelet's Lease, renewed at `renewed`; the check runs "3 s later".
        const renewed = new Date(Math.floor(Date.now() / 1000) * 1000);
        for (const name of [SERVER, AGENT, OTHER]) {
            apply({
                apiVersion: "coordination.k8s.io/v1",
                kind: "Lease",
                metadata: { name, namespace: "kube-node-lease" },
                spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: renewed.toISOString().replace(/Z$/, "000Z") },
            });
        }
        const dir = tmpDir();
        const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";
        writeStackFile(
            dir,
            "lab",
            [
                { name: SERVER, role: "server", sshPort: 22, hostKey: KEY },
                { name: AGENT, role: "agent", sshPort: 22, hostKey: KEY },
                { name: OTHER, role: "agent", sshPort: 22, hostKey: KEY },
            ],
            { serverUrl: "https://127.0.0.1:6443" },
        );
        // The API server is real; SSH and /ping are not what this test is about.
        const io: Partial<HealthIo> = {
            cwd: dir,
            now: () => new Date(renewed.getTime() + 3000),
            probes: { ssh: async () => ({ ok: true }), ping: async () => ({ ok: true }) },
        };
        const r = await health(["--stack", "lab", "--kubeconfig", "-"], io);
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(
            [
                "NODE       READY  LEASE  KUBELET       SSH",
                `${SERVER}  True   3s     ${VERSION}  ok`,
                `${AGENT}  True   3s     ${VERSION}  ok`,
                `${OTHER}    True   3s     ${VERSION}  ok`,
                "server ping https://127.0.0.1:6443: pong",
                `${AGENT}: node change failed to revert: ${message}; see docs/runbooks/node-changes.md`,
                `${AGENT}: cordoned by a k3s node change since ${cordonedAt}: once the node is healthy, kubectl uncordon ${AGENT} (docs/runbooks/node-changes.md)`,
                "",
            ].join("\n"),
        );
        expect(r.code).toBe(1);
        const report = JSON.parse((await health(["--stack", "lab", "--kubeconfig", "-", "--format", "json", "--node", AGENT], io)).stdout);
        expect(report.nodes[0]).toMatchObject({
            name: AGENT,
            nodeChange: { reason: "RevertFailed", message, since: failedAt },
            cordoned: { byOceanid: true, since: cordonedAt },
        });
        expect(report.problems).toHaveLength(2);
    });
});
