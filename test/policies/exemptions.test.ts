// Exemptions a real cluster needs, through every gate: ownership (admission
// proves who created a Pod and for which owner), narrow exemptions (`allow`),
// provisioned volumes. The admission side is the policy's CEL under a CEL
// library with the request's user name; test/cluster/day-one.test.ts proves
// the same on the real API server with the real controllers.
import { describe, expect, it } from "vitest";
import { parseGuardConfig } from "../../policies/engine/guard-config";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { admissionDenials } from "../helpers/admission";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cliVerdict, packVerdict, runCliArgs } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";

const SA = (n: string) => `system:serviceaccount:kube-system:${n}`;
const RULE_IDS = RULES.map((r) => r.id);
const safe = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };
const container = (extra: Obj = {}): Obj => ({ name: "c", image: "registry.example/agent:1.0", securityContext: safe, ...extra });
const ref = (apiVersion: string, kind: string, name: string, controller = true) => ({
    apiVersion,
    kind,
    name,
    uid: "0b7c0e4e-1d1a-4c1e-9d40-000000000001",
    controller,
});

const hostNetworkSpec = (): Obj => ({ hostNetwork: true, containers: [container()] });
const pod = (name: string, spec: Obj, meta: Obj = {}): Obj => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "monitoring", ...meta }, spec });
const daemonSet = (name: string, spec: Obj): Obj => ({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name, namespace: "monitoring" },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } },
});

const EXPORTER = [{ kind: "DaemonSet", namespace: "monitoring", name: "node-exporter", policies: ["daemonset-no-host-network"], reason: "reads metrics" }];
const denied = (objects: Obj[], username: string, exemptions: Obj[] = EXPORTER, config: Obj = {}) => [
    ...new Set(admissionDenials(objects, exemptions, { username, config }).denied),
];

describe("ownership: an exemption covers what the workload's controllers create from it, at admission", () => {
    it("the DaemonSet and the Pods its controller creates are admitted; the Pods are judged as the DaemonSet (host network is its rule)", () => {
        expect(denied([daemonSet("node-exporter", hostNetworkSpec())], "kubernetes-admin")).toEqual([]);
        const p = pod("node-exporter-x7k2p", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter")] });
        expect(denied([p], SA("daemon-set-controller"))).toEqual([]);
        expect(denied([p], "system:kube-controller-manager")).toEqual([]);
    });

    it("the same Pod from a person, or from another controller, is judged as itself: a hand-made Pod outside a DaemonSet", () => {
        const p = pod("node-exporter-x7k2p", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter")] });
        expect(denied([p], "kubernetes-admin")).toEqual(["workload-no-host-namespaces"]);
        expect(denied([p], SA("replicaset-controller"))).toEqual(["workload-no-host-namespaces"]);
        expect(denied([p], "system:serviceaccount:monitoring:default")).toEqual(["workload-no-host-namespaces"]);
    });

    it("the DaemonSet's controller acting for another DaemonSet, a reference that is not the controller, or two controllers prove nothing", () => {
        const other = pod("x", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "not-exempt")] });
        expect(denied([other], SA("daemon-set-controller"))).toEqual(["daemonset-no-host-network"]);
        const notController = pod("x", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter", false)] });
        expect(denied([notController], SA("daemon-set-controller"))).toEqual(["workload-no-host-namespaces"]);
        const two = pod("x", hostNetworkSpec(), {
            ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter"), ref("apps/v1", "DaemonSet", "node-exporter")],
        });
        expect(denied([two], SA("daemon-set-controller"))).toEqual(["workload-no-host-namespaces"]);
        const otherNamespace = { ...pod("x", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter")] }) };
        otherNamespace.metadata.namespace = "apps";
        expect(denied([otherNamespace], SA("daemon-set-controller"))).toEqual(["daemonset-no-host-network"]);
    });

    const PID = [{ kind: "Deployment", namespace: "monitoring", name: "agent", policies: ["workload-no-host-namespaces"], reason: "process metrics" }];
    const pidSpec = (): Obj => ({ hostPID: true, containers: [container()] });

    it("Deployment → ReplicaSet (deployment controller) → Pod (replicaset controller, the ReplicaSet named <deployment>-<pod-template-hash>)", () => {
        const rs: Obj = {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            metadata: { name: "agent-5d4f8b9c7", namespace: "monitoring", ownerReferences: [ref("apps/v1", "Deployment", "agent")] },
            spec: {
                selector: { matchLabels: { app: "agent" } },
                template: { metadata: { labels: { app: "agent", "pod-template-hash": "5d4f8b9c7" } }, spec: pidSpec() },
            },
        };
        expect(denied([rs], SA("deployment-controller"), PID)).toEqual([]);
        expect(denied([rs], "kubernetes-admin", PID)).toEqual(["workload-no-host-namespaces"]);
        const p = pod("agent-5d4f8b9c7-q2x9z", pidSpec(), {
            labels: { app: "agent", "pod-template-hash": "5d4f8b9c7" },
            ownerReferences: [ref("apps/v1", "ReplicaSet", "agent-5d4f8b9c7")],
        });
        expect(denied([p], SA("replicaset-controller"), PID)).toEqual([]);
        // A ReplicaSet of another Deployment whose name starts with this one's: the hash does not line up.
        const lookalike = pod("agent-evil-5d4f8b9c7-q2x9z", pidSpec(), {
            labels: { "pod-template-hash": "5d4f8b9c7" },
            ownerReferences: [ref("apps/v1", "ReplicaSet", "agent-evil-5d4f8b9c7")],
        });
        expect(denied([lookalike], SA("replicaset-controller"), PID)).toEqual(["workload-no-host-namespaces"]);
        const noHash = pod("agent-x", pidSpec(), { ownerReferences: [ref("apps/v1", "ReplicaSet", "agent-5d4f8b9c7")] });
        expect(denied([noHash], SA("replicaset-controller"), PID)).toEqual(["workload-no-host-namespaces"]);
    });

    it("CronJob → Job (cronjob controller) → Pod (job controller, the Job named <cronjob>-<minutes>); StatefulSet → Pod", () => {
        const CJ = [{ kind: "CronJob", namespace: "monitoring", name: "scan", policies: ["workload-no-host-namespaces"], reason: "process scan" }];
        const job: Obj = {
            apiVersion: "batch/v1",
            kind: "Job",
            metadata: { name: "scan-29412360", namespace: "monitoring", ownerReferences: [ref("batch/v1", "CronJob", "scan")] },
            spec: { template: { spec: { ...pidSpec(), restartPolicy: "Never" } } },
        };
        expect(denied([job], SA("cronjob-controller"), CJ)).toEqual([]);
        expect(denied([job], "kubernetes-admin", CJ)).toEqual(["workload-no-host-namespaces"]);
        const p = pod("scan-29412360-7tq5x", pidSpec(), { ownerReferences: [ref("batch/v1", "Job", "scan-29412360")] });
        expect(denied([p], SA("job-controller"), CJ)).toEqual([]);
        const notFromCronJob = pod("scan-x", pidSpec(), { ownerReferences: [ref("batch/v1", "Job", "scan-manual")] });
        expect(denied([notFromCronJob], SA("job-controller"), CJ)).toEqual(["workload-no-host-namespaces"]);
        const STS = [{ kind: "StatefulSet", namespace: "monitoring", name: "db", policies: ["workload-no-host-namespaces"], reason: "r" }];
        const sp = pod("db-0", pidSpec(), { ownerReferences: [ref("apps/v1", "StatefulSet", "db")] });
        expect(denied([sp], SA("statefulset-controller"), STS)).toEqual([]);
        expect(denied([sp], SA("daemon-set-controller"), STS)).toEqual(["workload-no-host-namespaces"]);
    });

    it("the guard and the pack see only what is written: a Pod in YAML that names an exempted owner is judged as itself", () => {
        const p = pod("node-exporter-x7k2p", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "node-exporter")] });
        expect(cliVerdict([p], EXPORTER).mandatory).toEqual(["workload-no-host-namespaces"]);
        expect(packVerdict([p], EXPORTER).mandatory).toEqual(["workload-no-host-namespaces"]);
    });

    it("a refusal of a controller-created Pod names the owner an exemption can name", () => {
        const p = pod("node-exporter-x7k2p", hostNetworkSpec(), { ownerReferences: [ref("apps/v1", "DaemonSet", "exporter-2")] });
        const { messages } = admissionDenials([p], EXPORTER, { username: SA("daemon-set-controller") });
        expect(messages).toEqual([
            "daemonset-no-host-network: DaemonSet pods must not use hostNetwork: true (oceanid guardrails; run oceanid-guard on the manifest for details). " +
                'If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: DaemonSet, namespace: monitoring, name: exporter-2, policies: [daemonset-no-host-network], reason: "<why this is safe>"}].',
        ]);
    });
});

describe("narrow exemptions: `allow` names exactly what is allowed, in every gate", () => {
    const exporter = (volumes: Obj[], mounts: Obj[], extra: Obj = {}) =>
        daemonSet("node-exporter", { hostNetwork: true, hostPID: true, containers: [container({ volumeMounts: mounts })], volumes, ...extra });
    const NARROW = [
        {
            kind: "DaemonSet",
            namespace: "monitoring",
            name: "node-exporter",
            policies: ["daemonset-no-host-network", "workload-no-host-namespaces", "no-host-path-network-state", "no-host-path-node-runtime"],
            allow: { hostNamespaces: ["hostNetwork", "hostPID"], hostPaths: [{ path: "/" }, { path: "/sys" }] },
            reason: "node metrics",
        },
    ];
    const verdicts = (obj: Obj) => ({
        guard: cliVerdict([obj], NARROW).mandatory.sort(),
        pack: packVerdict([obj], NARROW).mandatory.sort(),
        admission: denied([obj], "kubernetes-admin", NARROW).sort(),
    });
    const all = (rules: string[]) => ({ guard: rules, pack: rules, admission: rules });

    it("what it names is admitted: host network and PID, / and /sys mounted read-only", () => {
        const ok = exporter(
            [
                { name: "root", hostPath: { path: "/" } },
                { name: "sys", hostPath: { path: "/sys/" } },
            ],
            [
                { name: "root", mountPath: "/host/root", readOnly: true },
                { name: "sys", mountPath: "/host/sys", readOnly: true },
            ],
        );
        expect(verdicts(ok)).toEqual(all([]));
    });

    it("a later /var/lib/tailscale mount, a writable /, hostIPC or a capability are still refused", () => {
        const tailscale = exporter(
            [
                { name: "root", hostPath: { path: "/" } },
                { name: "ts", hostPath: { path: "/var/lib/tailscale" } },
            ],
            [
                { name: "root", mountPath: "/host/root", readOnly: true },
                { name: "ts", mountPath: "/ts", readOnly: true },
            ],
        );
        expect(verdicts(tailscale)).toEqual(all(["no-host-path-network-state"]));
        const writable = exporter([{ name: "root", hostPath: { path: "/" } }], [{ name: "root", mountPath: "/host/root" }]);
        expect(verdicts(writable)).toEqual(all(["no-host-path-network-state", "no-host-path-node-runtime"]));
        expect(verdicts(exporter([], [], { hostIPC: true }))).toEqual(all(["workload-no-host-namespaces"]));
        const cap = daemonSet("node-exporter", { hostNetwork: true, containers: [container({ securityContext: { capabilities: { add: ["NET_ADMIN"] } } })] });
        expect(verdicts(cap)).toEqual(all(["no-privileged-networking"]));
    });

    it("the guard says what the narrow exemption allowed and why the rest stands", () => {
        const writable = exporter([{ name: "root", hostPath: { path: "/" } }], [{ name: "root", mountPath: "/host/root" }]);
        expect(cliVerdict([writable], NARROW).messages).toEqual([
            'DaemonSet monitoring/node-exporter: volume "root" mounts host path "/" (spec.template.spec.volumes[0].hostPath.path), which matches the protected host path /: ' +
                "the node's network lives there, and a pod that writes it can cut the node off",
            'DaemonSet monitoring/node-exporter: volume "root" mounts host path "/" (spec.template.spec.volumes[0].hostPath.path), which holds the protected host path /run/k3s: ' +
                "whoever reaches the container runtime, the kubelet or k3s there controls the node: it can start a host-network, privileged container no gate sees, or replace k3s",
        ]);
    });

    it("capabilities and privileged by name: NET_RAW allowed does not allow NET_ADMIN", () => {
        const LB = [
            {
                kind: "DaemonSet",
                namespace: "monitoring",
                name: "speaker",
                policies: ["no-privileged-networking"],
                allow: { capabilities: ["net_raw"] },
                reason: "r",
            },
        ];
        const speaker = (caps: string[]) =>
            daemonSet("speaker", { containers: [container({ securityContext: { ...safe, capabilities: { drop: ["ALL"], add: caps } } })] });
        for (const [caps, rules] of [
            [["NET_RAW"], []],
            [["CAP_NET_RAW"], []],
            [["NET_RAW", "NET_ADMIN"], ["no-privileged-networking"]],
        ] as const) {
            const obj = speaker([...caps]);
            expect({ guard: cliVerdict([obj], LB).mandatory, admission: denied([obj], "kubernetes-admin", LB) }).toEqual({ guard: rules, admission: rules });
        }
    });

    it("a whole-rule exemption (no allow) keeps working", () => {
        const whole = [{ ...NARROW[0], allow: undefined }];
        delete (whole[0] as Obj).allow;
        const any = exporter([{ name: "ts", hostPath: { path: "/var/lib/tailscale" } }], [{ name: "ts", mountPath: "/ts" }], { hostIPC: true });
        expect(cliVerdict([any], whole).mandatory).toEqual([]);
        expect(denied([any], "kubernetes-admin", whole)).toEqual([]);
    });
});

describe("provisioned volumes: the provisioner's own identity, under its path", () => {
    const LOCAL_PATH = { provisionedVolumes: [{ provisioner: "rancher.io/local-path", reason: "k3s's default StorageClass" }] };
    const PROVISIONER = SA("local-path-provisioner-service-account");
    const pv = (path: string): Obj => ({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "pvc-3f1c2a9e-8a4b-4f7e-9d3c-1b2a3c4d5e6f", annotations: { "pv.kubernetes.io/provisioned-by": "rancher.io/local-path" } },
        spec: {
            capacity: { storage: "1Gi" },
            accessModes: ["ReadWriteOnce"],
            storageClassName: "local-path",
            hostPath: { path, type: "DirectoryOrCreate" },
        },
    });
    const VOLUME = "/var/lib/rancher/k3s/storage/pvc-3f1c2a9e-8a4b-4f7e-9d3c-1b2a3c4d5e6f_apps_data";

    it("admitted when the provisioner creates it under its path; refused from anyone else, and by the guard and the pack", () => {
        expect(denied([pv(VOLUME)], PROVISIONER, [], LOCAL_PATH)).toEqual([]);
        expect(denied([pv(VOLUME)], "kubernetes-admin", [], LOCAL_PATH)).toEqual(["no-host-path-node-runtime"]);
        expect(denied([pv(VOLUME)], SA("daemon-set-controller"), [], LOCAL_PATH)).toEqual(["no-host-path-node-runtime"]);
        expect(cliVerdict([pv(VOLUME)]).mandatory).toEqual(["no-host-path-node-runtime"]);
    });

    it("the provisioner is held to its path: the storage directory itself, k3s's data, a climb out of it", () => {
        for (const path of ["/var/lib/rancher/k3s/storage", "/var/lib/rancher/k3s/server", "/var/lib/rancher/k3s/storage/../server/db", "/var/lib/tailscale"]) {
            expect(denied([pv(path)], PROVISIONER, [], LOCAL_PATH), path).not.toEqual([]);
        }
    });

    it("without the entry, the provisioner is refused like anyone", () => {
        expect(denied([pv(VOLUME)], PROVISIONER, [], {})).toEqual(["no-host-path-node-runtime"]);
    });
});

describe("the guard config's exemptions and provisioned volumes: clear errors", () => {
    const problems = (raw: Obj) => {
        try {
            parseGuardConfig(raw, "guard-config.yaml", RULE_IDS);
            return "";
        } catch (e) {
            return (e as Error).message;
        }
    };
    const base = { kind: "DaemonSet", namespace: "monitoring", name: "x", reason: "r" };

    it("an allow that narrows a rule the exemption does not list, or a listed rule no allow narrows", () => {
        expect(problems({ exemptions: [{ ...base, policies: ["no-privileged-networking"], allow: { hostPaths: [{ path: "/" }] } }] })).toBe(
            "guard-config.yaml: 2 problems:\n" +
                "  - exemptions[0].allow.hostPaths: narrows no-host-path-network-state or no-host-path-node-runtime, which policies does not list: add the rule to policies, or remove allow.hostPaths\n" +
                '  - exemptions[0].policies[0]: "no-privileged-networking" is not narrowed by allow, so this exemption would not cover it: move it to an exemption of its own without allow',
        );
    });

    it("a host path that is relative or climbs; an empty allow", () => {
        expect(problems({ exemptions: [{ ...base, policies: ["no-host-path-node-runtime"], allow: { hostPaths: [{ path: "var/lib/kubelet" }] } }] })).toContain(
            'exemptions[0].allow.hostPaths[0].path: "var/lib/kubelet" is not an absolute path without ".."',
        );
        expect(problems({ exemptions: [{ ...base, policies: ["no-host-path-node-runtime"], allow: {} }] })).toContain(
            "exemptions[0].allow: is empty: name what it allows (hostPaths, capabilities, privileged, hostNamespaces), or remove it to exempt the whole rules",
        );
    });

    it("a provisioner that is not known needs its identity and path", () => {
        expect(problems({ provisionedVolumes: [{ provisioner: "example.com/nfs", reason: "r" }] })).toBe(
            "guard-config.yaml: 2 problems:\n" +
                '  - provisionedVolumes[0].identity: required for "example.com/nfs" (known without it: rancher.io/local-path)\n' +
                '  - provisionedVolumes[0].path: required for "example.com/nfs" (known without it: rancher.io/local-path)',
        );
        expect(problems({ provisionedVolumes: [{ provisioner: "rancher.io/local-path", reason: " " }] })).toContain(
            "provisionedVolumes[0].reason: is empty: every provisioned-volume entry says why it exists",
        );
    });
});

describe("the shipped platform config in oceanid-guard's text report", () => {
    it("names each rule the node exporter is exempt from, what the narrow entry allows, and the reason", () => {
        const run = runCliArgs(["-"], readFileSync(join(ROOT, "test", "fixtures", "real-cluster", "kube-prometheus-node-exporter.yaml"), "utf8"));
        expect(run.code).toBe(0);
        expect(run.stdout.split("\n")[0]).toBe(
            "exempt: DaemonSet monitoring/node-exporter from daemonset-no-host-network (platform; allows only hostNetwork): " +
                "node metrics: reads the host's network, processes and file systems read-only; unprivileged, all capabilities dropped (monitoring owners)",
        );
        expect(run.stdout).toContain("from no-host-path-network-state (platform; allows only hostPath /sys (read-only), hostPath / (read-only)): ");
    });
});
