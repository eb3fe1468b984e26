// Pod templates in kinds the guard does not know, found by shape, and
// PersistentVolumes on protected host paths: what the guard reads, what
// admission reads (with its match conditions, as the API server applies
// them), and the one class where admission refuses more.
import { evaluate as cel } from "@marcbachmann/cel-js";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { admissionManifests } from "../../policies/engine/admission";
import { NOTICES_POLICY, packPolicies } from "../../policies/engine/crossguard";
import { evaluate, PersistentVolumeMounts } from "../../policies/engine/evaluate";
import { hostPathVolumes } from "../../policies/engine/host-path";
import { fromManifest, type KubeObject } from "../../policies/engine/kube-object";
import { containersOf, podSpecsOf, SHAPE_MAX_DEPTH, SHAPE_MAX_POD_SPECS, shapeProblems } from "../../policies/engine/pod-spec";
import { UNKNOWN } from "../../policies/engine/unknown";
import { createBindings } from "../helpers/admission";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { guardConfig, NOW } from "../helpers/gates";

const obj = (o: Obj): KubeObject => fromManifest(o, { file: "x.yaml" })[0];
const guard = (...objects: Obj[]) => evaluate(objects.map(obj), RULES, guardConfig(), { annotations: true, now: NOW }).violations;
const policies = (...objects: Obj[]) => [...new Set(guard(...objects).map((v) => v.policy))].sort();

const { policy } = admissionManifests("g", RULES, { config: guardConfig(), now: NOW });
/** The rules the API server denies `object` with, or undefined when the policy does not match it. */
function admit(object: Obj): string[] | undefined {
    // A create by an administrator, as kubectl sends it.
    const bound = createBindings(object);
    if (!policy.spec.matchConditions.every((m) => cel(m.expression, bound) === true)) return undefined;
    const variables: Record<string, unknown> = {};
    for (const v of policy.spec.variables) variables[v.name] = cel(v.expression, { ...bound, variables });
    return [...new Set(policy.spec.validations.filter((v) => cel(v.expression, { ...bound, variables }) !== true).map((v) => v.message.split(":")[0]))].sort();
}

const safeContainer = (name: string) => ({ name, image: "registry.example/app:1.0", securityContext: { allowPrivilegeEscalation: false } });
const workflow = (spec: Obj): Obj => ({ apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata: { name: "wf", namespace: "apps" }, spec });
const pytorchJob = (podSpec: Obj): Obj => ({
    apiVersion: "kubeflow.org/v1",
    kind: "PyTorchJob",
    metadata: { name: "train", namespace: "ml" },
    spec: { pytorchReplicaSpecs: { Master: { replicas: 1, template: { spec: podSpec } } } },
});

describe("pod specs found by shape", () => {
    it("an Argo Workflow carries its own spec and each template, containers at their real paths, the Workflow's volumes visible to a template", () => {
        const wf = obj(
            workflow({
                volumes: [{ name: "ts", hostPath: { path: "/srv/ts" } }],
                templates: [
                    { name: "main", steps: [[{ name: "a", template: "a" }]] },
                    { name: "a", container: { image: "x", command: ["run"] }, sidecars: [safeContainer("side")], volumes: [{ name: "tmp", emptyDir: {} }] },
                ],
            }),
        );
        const views = podSpecsOf(wf);
        expect(views.map((v) => v.path)).toEqual([["spec"], ["spec", "templates", 1]]);
        const template = views[1];
        const containers = containersOf(template);
        expect(containers === UNKNOWN ? [] : containers.map((c) => [c.name, c.path])).toEqual([
            ["a", ["spec", "templates", 1, "container"]],
            ["side", ["spec", "templates", 1, "sidecars", 0]],
        ]);
        const volumes = hostPathVolumes(template);
        expect(volumes === UNKNOWN ? [] : volumes.map((v) => v.path)).toEqual([["spec", "volumes", 0, "hostPath", "path"]]);
    });

    it("a pod spec outside the known locations (Kubeflow's replica specs) is found by the walk", () => {
        expect(podSpecsOf(obj(pytorchJob({ containers: [safeContainer("m")] }))).map((v) => v.path)).toEqual([
            ["spec", "pytorchReplicaSpecs", "Master", "template", "spec"],
        ]);
    });

    it("Kubernetes' own kinds keep their one path; kinds outside custom groups, CRDs and Pulumi's helm.sh are not walked", () => {
        expect(podSpecsOf(obj({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" }, spec: {} })).map((v) => v.path)).toEqual([
            ["spec", "template", "spec"],
        ]);
        const schema = { properties: { hostNetwork: { type: "boolean" }, podSpecPatch: { type: "string" } } };
        const crd = { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "w" }, spec: { versions: [{ schema }] } };
        const values = { apiVersion: "helm.sh/v4", kind: "Chart", metadata: { name: "c" }, spec: { values: { hostNetwork: true } } };
        const service = { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { hostNetwork: true } };
        for (const o of [crd, values, service]) {
            expect(podSpecsOf(obj(o))).toEqual([]);
            expect(shapeProblems(obj(o))).toEqual([]);
            expect(admit(o)).toBeUndefined();
        }
    });

    it("messages name the real path in the custom resource", () => {
        const wf = workflow({
            templates: [{ name: "a" }, { name: "tune", container: { image: "x", command: ["sysctl"], securityContext: { privileged: true } } }],
        });
        expect(guard(wf).map((v) => v.message)).toEqual([
            'Workflow apps/wf: container "tune" sets spec.templates[1].container.securityContext.privileged: true, which gives it every device and capability of the node, its network included',
        ]);
    });
});

describe("pod templates no gate can read", () => {
    const cases: Array<[string, Obj, string]> = [
        ["podSpecPatch", workflow({ podSpecPatch: "{}" }), "Workflow apps/wf: spec.podSpecPatch is a patch the controller applies to the pod as text"],
        [
            "a string template",
            { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", metadata: { name: "r", namespace: "apps" }, spec: { template: "x" } },
            'Rollout apps/r: spec.template is a string ("x"), not an object',
        ],
        ["templates that are not a list", workflow({ templates: { a: {} } }), "Workflow apps/wf: spec.templates is a object, not a list"],
    ];
    it.each(cases)("%s: the guard reports it, admission refuses it", (_, o, message) => {
        const found = guard(o);
        expect(found.map((v) => v.policy)).toEqual(["no-opaque-pod-template"]);
        expect(found[0].message).toContain(message);
        expect(admit(o)).toEqual(["no-opaque-pod-template"]);
    });

    const nested = (depth: number): Obj => {
        let node: Obj = { leaf: "x" };
        for (let i = 1; i < depth; i++) node = { n: node };
        return { apiVersion: "example.com/v1", kind: "Deep", metadata: { name: "d" }, spec: node };
    };
    it(`content at level ${SHAPE_MAX_DEPTH} passes both; one level deeper is refused by both`, () => {
        expect(guard(nested(SHAPE_MAX_DEPTH - 1))).toEqual([]);
        expect(admit(nested(SHAPE_MAX_DEPTH - 1))).toEqual([]);
        expect(guard(nested(SHAPE_MAX_DEPTH)).map((v) => v.message)).toEqual([
            `Deep d: spec${".n".repeat(SHAPE_MAX_DEPTH - 1)} is nested deeper than ${SHAPE_MAX_DEPTH} levels: no gate can read the pod template it makes`,
        ]);
        expect(admit(nested(SHAPE_MAX_DEPTH))).toEqual(["no-opaque-pod-template"]);
    });

    it(`more than ${SHAPE_MAX_POD_SPECS} pod specs at the known locations are refused by both`, () => {
        const many = (n: number) => workflow({ templates: Array.from({ length: n }, (_, i) => ({ name: `t${i}`, container: safeContainer("c") })) });
        expect(guard(many(SHAPE_MAX_POD_SPECS))).toEqual([]);
        expect(admit(many(SHAPE_MAX_POD_SPECS))).toEqual([]);
        expect(policies(many(SHAPE_MAX_POD_SPECS + 1))).toEqual(["no-opaque-pod-template"]);
        expect(admit(many(SHAPE_MAX_POD_SPECS + 1))).toEqual(["no-opaque-pod-template"]);
    });

    it("a custom resource whose spec is not known yet cannot be proven free of pod templates (pack, preview)", () => {
        const found = evaluate([{ ...obj(workflow({})), body: { ...workflow({}), spec: UNKNOWN } }], RULES, guardConfig(), { annotations: true, now: NOW });
        expect(found.violations.map((v) => [v.policy, v.unknown, v.message])).toEqual([
            ["no-opaque-pod-template", true, "Workflow apps/wf: cannot prove spec carries no pod template: it is not known until the update runs"],
        ]);
    });
});

describe("admission reads the known locations only, and refuses pod content elsewhere", () => {
    it("a hostNetwork pod in Kubeflow's replica specs: the guard names the real rule, admission refuses the object as unreadable", () => {
        const job = pytorchJob({ hostNetwork: true, containers: [safeContainer("m")] });
        expect(guard(job).map((v) => v.message)).toEqual([
            "PyTorchJob ml/train: spec.pytorchReplicaSpecs.Master.template.spec.hostNetwork is true; the pod shares the node's network namespace",
        ]);
        expect(admit(job)).toEqual(["no-opaque-pod-template"]);
    });

    it("a compliant pod there passes the guard and is still refused by admission", () => {
        const job = pytorchJob({ containers: [safeContainer("m")] });
        expect(guard(job)).toEqual([]);
        expect(admit(job)).toEqual(["no-opaque-pod-template"]);
    });

    it("the same pod at a known location (a JobSet's replicated jobs) gets the same verdict from both", () => {
        const jobSet = (podSpec: Obj): Obj => ({
            apiVersion: "jobset.x-k8s.io/v1alpha2",
            kind: "JobSet",
            metadata: { name: "js", namespace: "ml" },
            spec: { replicatedJobs: [{ name: "w", template: { spec: { template: { spec: podSpec } } } }] },
        });
        expect(policies(jobSet({ hostPID: true, containers: [safeContainer("m")] }))).toEqual(["workload-no-host-namespaces"]);
        expect(admit(jobSet({ hostPID: true, containers: [safeContainer("m")] }))).toEqual(["workload-no-host-namespaces"]);
        expect(admit(jobSet({ containers: [safeContainer("m")] }))).toEqual([]);
    });
});

describe("PersistentVolumes on protected host paths", () => {
    const pv = (source: Obj, extra: Obj = {}): Obj => ({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "pv1" },
        spec: { ...source, ...extra },
    });
    const pvc = (name: string, volumeName?: string): Obj => ({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace: "apps" },
        spec: volumeName ? { volumeName } : {},
    });
    const deployment = (claim: string): Obj => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "apps" },
        spec: { template: { spec: { containers: [safeContainer("app")], volumes: [{ name: "d", persistentVolumeClaim: { claimName: claim } }] } } },
    });

    it.each([
        [
            { hostPath: { path: "/var/lib/rancher/k3s/" } },
            ['points at host path "/var/lib/rancher/k3s/" (spec.hostPath.path), which matches the protected host path /var/lib/rancher'],
            ["no-host-path-node-runtime"],
        ],
        [
            { local: { path: "/var" } },
            [
                'points at host path "/var" (spec.local.path), which holds the protected host path /var/lib/tailscale*',
                'points at host path "/var" (spec.local.path), which holds the protected host path /var/lib/rancher',
            ],
            ["no-host-path-network-state", "no-host-path-node-runtime"],
        ],
        [
            { hostPath: { path: "/srv/../etc/cni" } },
            ['points at host path "/srv/../etc/cni" (spec.hostPath.path), which matches the protected host path /etc/cni'],
            ["no-host-path-network-state"],
        ],
        [{ local: { path: "/srv/a/../b" } }, ['points at host path "/srv/a/../b" (spec.local.path), which climbs with ".."'], ["no-host-path-network-state"]],
    ])("%j is refused by the guard and by admission", (source, messages, rules) => {
        expect(guard(pv(source)).map((v) => v.message)).toEqual(messages.map((m) => expect.stringContaining(`PersistentVolume pv1: ${m}`)));
        expect(admit(pv(source))).toEqual(rules);
    });

    it("a data disk, an NFS volume, and a claim are fine in both", () => {
        for (const o of [pv({ local: { path: "/srv/data" } }), pv({ nfs: { server: "nas", path: "/etc" } })]) {
            expect(guard(o)).toEqual([]);
            expect(admit(o)).toEqual([]);
        }
        expect(admit(pvc("data"))).toBeUndefined();
    });

    it("with every object of the run, the message names the pods that mount it: by the claim's volumeName, or the volume's claimRef", () => {
        const related = (objects: Obj[]) =>
            evaluate([obj(objects[0])], RULES, guardConfig(), { annotations: true, now: NOW, related: objects.map(obj) }).violations.map((v) => v.message);
        const tail = "; mounted by Deployment apps/web (claim apps/data)";
        expect(related([pv({ hostPath: { path: "/etc" } }), pvc("data", "pv1"), deployment("data")])[0]).toMatch(
            new RegExp(`${tail.replace(/[()]/g, "\\$&")}$`),
        );
        expect(related([pv({ hostPath: { path: "/etc" } }, { claimRef: { name: "data", namespace: "apps" } }), deployment("data")])[0]).toMatch(
            /claim apps\/data\)$/,
        );
        // Mounted by nobody here: the message is the volume's own, as every gate gives it.
        expect(related([pv({ hostPath: { path: "/etc" } }), pvc("data", "other"), deployment("data")])[0]).not.toContain("mounted by");
    });

    it("a claim in another namespace is not the same claim", () => {
        const mounts = new PersistentVolumeMounts();
        mounts.add(obj(pvc("data", "pv1")));
        mounts.add(obj({ ...deployment("data"), metadata: { name: "web", namespace: "other" } }));
        expect(mounts.usersOf("pv1")).toEqual([]);
        mounts.add(obj(deployment("data")));
        expect(mounts.usersOf("pv1")).toEqual(["Deployment apps/web (claim apps/data)"]);
    });

    it("the pack's stack phase repeats the volume's violation with its users under the notices policy, against the volume's URN", () => {
        const notices = packPolicies(RULES, guardConfig(), () => NOW).find((p) => p.name === NOTICES_POLICY) as ResourceValidationPolicy &
            StackValidationPolicy;
        const reports: Array<[string, string | undefined]> = [];
        const resource = (o: Obj) => ({ type: `kubernetes:${o.apiVersion === "v1" ? "core/v1" : o.apiVersion}:${o.kind}`, props: o, urn: `urn:${o.kind}` });
        void notices.validateStack(
            { resources: [pv({ hostPath: { path: "/etc/cni" } }), pvc("data", "pv1"), deployment("data")].map(resource) } as never,
            (message: string, urn?: string) => reports.push([message, urn]),
        );
        expect(reports).toEqual([
            [
                expect.stringMatching(/^\[no-host-path-network-state\] PersistentVolume pv1: .*; mounted by Deployment apps\/web \(claim apps\/data\)$/),
                "urn:PersistentVolume",
            ],
        ]);
        // A volume nobody in the stack mounts is reported once, by its rule, not repeated here.
        reports.length = 0;
        void notices.validateStack(
            { resources: [pv({ hostPath: { path: "/etc" } }), pvc("data", "other"), deployment("data")].map(resource) } as never,
            (message: string, urn?: string) => reports.push([message, urn]),
        );
        expect(reports).toEqual([]);
    });
});
