// Day one of a real k3s + GPU cluster on the real control plane: the admission
// policy the program renders (components/admission, the same builder) from the
// shipped platform config (policies/guard-config.yaml), with the real
// kube-controller-manager creating Pods under its controllers' own identities,
// as k3s runs it (--use-service-account-credentials). What the cluster runs is
// admitted; what could repeat the incident or walk around the gates is denied.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { admissionManifests } from "../../policies/engine/admission";
import { loadGuardConfig } from "../../policies/engine/guard-config";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { crdsFor } from "../helpers/cluster-admission";
import { standInNodeStatus, type StandInNodeStatus } from "../helpers/deploy-node-status";
import { describeNeeding } from "../helpers/needs";
import { ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { CORPUS_DIR } from "../policies/real-cluster-corpus";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl"]);
process.env.OCEANID_TEST_CLUSTER_CONTROLLERS = "*";
const cluster = useTestCluster();

const NODE = "calypso";
const PROVISIONER = "system:serviceaccount:kube-system:local-path-provisioner-service-account";
const pidEntry = (kind: string, name: string) => ({
    kind,
    namespace: "apps",
    name,
    policies: ["workload-no-host-namespaces"],
    allow: { hostNamespaces: ["hostPID" as const] },
    reason: "process metrics (test entry)",
});
const EXTRA = [pidEntry("Deployment", "pid-agent"), pidEntry("Job", "pid-scan")];
const pidSpec = (restartPolicy = "Always") => ({
    hostPID: true,
    restartPolicy,
    containers: [{ name: "agent", image: "registry.example/agent:1.0", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
});
const docs = (file: string): Obj[] =>
    parseAllDocuments(readFileSync(file, "utf8"))
        .map((d) => d.toJS() as Obj)
        .filter((o) => o !== null);

function kubectl(args: string[], stdin?: string) {
    return cluster.kubectl(args, stdin);
}
function must(args: string[], stdin?: string): string {
    const r = kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}
const apply = (objects: Obj[], extra: string[] = []) => kubectl(["create", ...extra, "-f", "-"], objects.map((o) => JSON.stringify(o)).join("\n"));

suite("day one on the real control plane with the shipped platform config", () => {
    let status: StandInNodeStatus;
    const exporter = docs(join(CORPUS_DIR, "kube-prometheus-node-exporter.yaml"))[0];

    beforeAll(async () => {
        const shipped = loadGuardConfig(
            join(ROOT, "policies", "guard-config.yaml"),
            RULES.map((r) => r.id),
        );
        // The shipped entries, and two of this test's own: a Deployment and a Job, so that the
        // deployment, ReplicaSet and Job controllers' identities are proven here too.
        const config = { ...shipped, exemptions: [...shipped.exemptions, ...EXTRA] };
        const { policy, binding } = admissionManifests("oceanid-guardrails", RULES, {
            config,
            excludedNamespaces: config.admissionExcludedNamespaces,
            now: new Date(),
        });
        must(
            ["create", "-f", "-"],
            [
                { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", ...policy },
                { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", ...binding },
            ]
                .map((o) => JSON.stringify(o))
                .join("\n"),
        );
        for (const ns of ["monitoring", "apps", "system-upgrade", "tailscale"]) must(["create", "namespace", ns]);
        must(["create", "serviceaccount", "node-exporter", "-n", "monitoring"]);
        must(["create", "serviceaccount", "default-probe", "-n", "apps"]);
        // The GPU node as k3s registers it, Ready and renewing its Lease.
        must(
            ["create", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "Node",
                metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux" } },
            }),
        );
        status = await standInNodeStatus(cluster, { [NODE]: true });
        // What k3s's local-storage manifest grants the provisioner: creating PersistentVolumes.
        must(["create", "clusterrole", "local-path-provisioner-role", "--verb=get,list,watch,create,delete", "--resource=persistentvolumes"]);
        must(["create", "clusterrolebinding", "local-path-provisioner-bind", "--clusterrole=local-path-provisioner-role", `--user=${PROVISIONER}`]);
        // The policy is in force once a probe it must deny is denied (the API server loads policies asynchronously).
        let last = "";
        await pollUntil(
            "the admission policy in force",
            () => {
                const r = apply(docs(join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml")), ["--dry-run=server"]);
                last = r.output;
                return r.code !== 0 && r.output.includes("daemonset-no-host-network") ? true : undefined;
            },
            30_000,
            () => last,
        );
    }, 120_000);

    afterAll(async () => {
        await status?.stop();
    });

    it("the node exporter (kube-prometheus' real manifest) is admitted, and so are the Pods the DaemonSet controller creates from it", async () => {
        const r = apply([exporter]);
        expect(r.code, r.output).toBe(0);
        const pod = await pollUntil(
            "the DaemonSet controller's Pod for node-exporter",
            () => {
                const pods = JSON.parse(must(["get", "pods", "-n", "monitoring", "-o", "json"])).items as Obj[];
                return pods.find((p) => p.metadata.ownerReferences?.some((o: Obj) => o.kind === "DaemonSet" && o.name === "node-exporter"));
            },
            60_000,
            () => must(["get", "events", "-n", "monitoring"]),
        );
        expect(pod.spec.hostNetwork).toBe(true);
        expect(pod.spec.hostPID).toBe(true);
        expect(pod.metadata.ownerReferences[0]).toMatchObject({ apiVersion: "apps/v1", kind: "DaemonSet", name: "node-exporter", controller: true });
        expect(pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values).toEqual([NODE]);
    }, 90_000);

    it("a Deployment's ReplicaSet and Pods (deployment and ReplicaSet controllers), a Job's Pods (Job controller) are admitted under the entry for their owner", async () => {
        const deployment = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "pid-agent", namespace: "apps" },
            spec: { selector: { matchLabels: { app: "pid-agent" } }, template: { metadata: { labels: { app: "pid-agent" } }, spec: pidSpec() } },
        };
        const job = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "pid-scan", namespace: "apps" }, spec: { template: { spec: pidSpec("Never") } } };
        const r = apply([deployment, job]);
        expect(r.code, r.output).toBe(0);
        const owners = await pollUntil(
            "the ReplicaSet controller's and the Job controller's Pods",
            () => {
                const pods = JSON.parse(must(["get", "pods", "-n", "apps", "-o", "json"])).items as Obj[];
                const by = (kind: string) => pods.find((p) => p.metadata.ownerReferences?.some((o: Obj) => o.kind === kind));
                const rsPod = by("ReplicaSet");
                const jobPod = by("Job");
                return rsPod && jobPod
                    ? {
                          rs: rsPod.metadata.ownerReferences[0].name as string,
                          hash: rsPod.metadata.labels["pod-template-hash"] as string,
                          job: jobPod.metadata.ownerReferences[0].name as string,
                      }
                    : undefined;
            },
            60_000,
            () => must(["get", "events", "-n", "apps"]),
        );
        expect(owners.rs).toBe(`pid-agent-${owners.hash}`);
        expect(owners.job).toBe("pid-scan");
        // The same Pod spec from a person, naming the same ReplicaSet, is denied.
        const copy = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
                name: "pid-agent-copy",
                namespace: "apps",
                labels: { app: "pid-agent", "pod-template-hash": owners.hash },
                ownerReferences: [
                    { apiVersion: "apps/v1", kind: "ReplicaSet", name: owners.rs, uid: "00000000-0000-0000-0000-000000000001", controller: true },
                ],
            },
            spec: pidSpec(),
        };
        const denied = apply([copy]);
        expect(denied.code).not.toBe(0);
        expect(denied.output).toContain("denied request: workload-no-host-namespaces: ");
    }, 90_000);

    it("a Pod that copies the exporter's Pod (labels, owner reference, uid) but comes from a person is denied", () => {
        const pods = JSON.parse(must(["get", "pods", "-n", "monitoring", "-o", "json"])).items as Obj[];
        const real = pods.find((p) => p.metadata.ownerReferences?.some((o: Obj) => o.name === "node-exporter"))!;
        const copy = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "node-exporter-copy", namespace: "monitoring", labels: real.metadata.labels, ownerReferences: real.metadata.ownerReferences },
            spec: { ...real.spec, nodeName: undefined },
        };
        const r = apply([copy]);
        expect(r.code).not.toBe(0);
        expect(r.output).toContain(
            "pods \"node-exporter-copy\" is forbidden: ValidatingAdmissionPolicy 'oceanid-guardrails' with binding 'oceanid-guardrails-binding' denied request: " +
                "workload-no-host-namespaces: pods must not use hostPID, hostIPC, or hostNetwork outside a DaemonSet",
        );
        expect(r.output).toContain("exempt it in policies/guard-config.yaml: exemptions: [{kind: Pod, namespace: monitoring, name: node-exporter-copy");
    });

    it("day two: labelling a controller's Pod is admitted (nothing judged changes); turning a Deployment's template to hostPID is not", () => {
        const pods = JSON.parse(must(["get", "pods", "-n", "monitoring", "-o", "json"])).items as Obj[];
        const real = pods.find((p) => p.metadata.ownerReferences?.some((o: Obj) => o.name === "node-exporter"))!;
        const label = kubectl(["label", "pod", real.metadata.name, "-n", "monitoring", "oceanid.io/checked=yes"]);
        expect(label.code, label.output).toBe(0);
        const web = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "web", namespace: "apps" },
            spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { ...pidSpec(), hostPID: false } } },
        };
        expect(apply([web]).code).toBe(0);
        const patched = kubectl([
            "patch",
            "deployment",
            "web",
            "-n",
            "apps",
            "--type=merge",
            "-p",
            JSON.stringify({ spec: { template: { spec: { hostPID: true } } } }),
        ]);
        expect(patched.code).not.toBe(0);
        expect(patched.output).toContain("denied request: workload-no-host-namespaces: ");
        const annotated = kubectl(["annotate", "deployment", "web", "-n", "apps", "oceanid.io/owner=apps-team"]);
        expect(annotated.code, annotated.output).toBe(0);
    });

    it("the incident's DaemonSet is denied (the API server names the first rule it broke), exemption route included", () => {
        const r = apply(docs(join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml")));
        expect(r.code).not.toBe(0);
        expect(r.output).toContain(
            "denied request: daemonset-no-host-network: DaemonSet pods must not use hostNetwork: true (oceanid guardrails; run oceanid-guard on the manifest for details). " +
                'If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: DaemonSet, namespace: tailscale, name: tailscale-worker, policies: [daemonset-no-host-network], reason: "<why this is safe>"}].',
        );
    });

    it("a Pod on the pod network that mounts k3s's containerd socket is denied: no way around the gates through the runtime", () => {
        const r = apply(docs(join(ROOT, "policies", "rules", "no-host-path-node-runtime", "fixtures", "broken-containerd-socket.yaml")));
        expect(r.code).not.toBe(0);
        expect(r.output).toContain("no-host-path-node-runtime: pods and PersistentVolumes must not use the container runtime's sockets or state");
    });

    it("a system-upgrade-controller Plan (the controller's own k3s example) is denied; a hardened Tailscale ProxyClass is admitted", () => {
        const plans = docs(join(CORPUS_DIR, "suc-k3s-upgrade-plan.yaml"));
        const proxyClass = docs(join(ROOT, "policies", "rules", "operator-resource-opaque", "fixtures", "compliant-hardened-proxyclass.yaml"));
        must(
            ["create", "-f", "-"],
            crdsFor([...plans, ...proxyClass])
                .map((o) => JSON.stringify(o))
                .join("\n"),
        );
        must(["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
        const r = apply(plans);
        expect(r.code).not.toBe(0);
        expect(r.output).toContain("no-in-cluster-node-upgrade: system-upgrade-controller Plans change node software outside the gated node chain");
        const p = apply(proxyClass);
        expect(p.code, p.output).toBe(0);
    });

    it("a local-path PersistentVolume is admitted from the provisioner's identity and denied from anyone else", () => {
        const pv = (name: string) => ({
            apiVersion: "v1",
            kind: "PersistentVolume",
            metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": "rancher.io/local-path" } },
            spec: {
                capacity: { storage: "1Gi" },
                accessModes: ["ReadWriteOnce"],
                persistentVolumeReclaimPolicy: "Delete",
                storageClassName: "local-path",
                hostPath: { path: `/var/lib/rancher/k3s/storage/${name}_apps_data`, type: "DirectoryOrCreate" },
                nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [NODE] }] }] } },
            },
        });
        const ok = apply([pv("pvc-1f0e4c5a-0b9d-4c1b-8a51-2c3d4e5f6a7b")], [`--as=${PROVISIONER}`]);
        expect(ok.code, ok.output).toBe(0);
        const denied = apply([pv("pvc-2a0e4c5a-0b9d-4c1b-8a51-2c3d4e5f6a7b")]);
        expect(denied.code).not.toBe(0);
        expect(denied.output).toContain("no-host-path-node-runtime: ");
        const outside = apply(
            [{ ...pv("pvc-3a0e4c5a"), spec: { ...pv("x").spec, hostPath: { path: "/var/lib/rancher/k3s/server/db" } } }],
            [`--as=${PROVISIONER}`],
        );
        expect(outside.code).not.toBe(0);
        expect(outside.output).toContain("no-host-path-node-runtime: ");
    });
});
