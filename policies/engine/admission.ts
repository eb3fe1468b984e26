// The guardrails as a ValidatingAdmissionPolicy: the API server itself
// refuses what the pack and oceanid-guard refuse, so a plain `kubectl apply`
// cannot get around them. Each rule brings its own CEL (Rule.admission); this
// builder adds the shared variables, the platform exemptions and the binding.
import { celString, POD_SPEC } from "./cel";
import { provisionerOf, type GuardConfig, type PlatformExemption } from "./guard-config";
import { normalizeHostPath } from "./host-path";
import { CONTROLLER_REF_CEL, OWNERS_CEL } from "./ownership";
import { POD_CARRYING_KINDS, READ_BY_SHAPE_CEL, SHAPE_MAX_POD_SPECS, shapeContainersCel, shapePodSpecsCel } from "./pod-spec";
import { normalizeCapability, type Rule } from "./rule";

/**
 * Every pod-carrying resource in every API group it was ever served from,
 * PersistentVolumes, and every custom resource (any group: the match
 * condition below keeps only those read by shape).
 */
export const GUARDED_RESOURCES = [
    { apiGroups: [""], apiVersions: ["*"], resources: ["pods", "pods/ephemeralcontainers", "podtemplates", "replicationcontrollers", "persistentvolumes"] },
    { apiGroups: ["apps"], apiVersions: ["*"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"] },
    { apiGroups: ["extensions"], apiVersions: ["*"], resources: ["deployments", "replicasets", "daemonsets"] },
    { apiGroups: ["batch"], apiVersions: ["*"], resources: ["jobs", "cronjobs"] },
    { apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] },
].map((r) => ({ ...r, operations: ["CREATE", "UPDATE"] }));

/** Node heartbeats and events never carry pods; the API server does not even evaluate the match condition for them. */
export const EXCLUDED_RESOURCES = [
    { apiGroups: ["coordination.k8s.io"], apiVersions: ["*"], resources: ["leases"] },
    { apiGroups: ["", "events.k8s.io"], apiVersions: ["*"], resources: ["events"] },
].map((r) => ({ ...r, operations: ["*"] }));

/** Kubernetes' own pod-carrying kinds (in a group without a dot), PersistentVolumes, and custom resources read by shape. */
export const MATCH_CONDITIONS = [
    {
        name: "pods-volumes-and-custom-resources",
        expression:
            `(!object.apiVersion.contains("/") || !object.apiVersion.split("/")[0].contains(".")) && object.kind in ${JSON.stringify([...POD_CARRYING_KINDS, "PersistentVolume"])} || ` +
            READ_BY_SHAPE_CEL,
    },
    {
        // An update that leaves what the rules judge as it was (a label, an annotation, an owner
        // reference, a finalizer: kubectl label, the garbage collector) was judged when that content
        // came in: judging it again would lock exempted and older objects in place.
        name: "changes-what-is-judged",
        expression:
            'request.operation != "UPDATE" || oldObject == null || ' +
            "(has(object.spec) ? !has(oldObject.spec) || object.spec != oldObject.spec : has(object.template) ? !has(oldObject.template) || object.template != oldObject.template : true)",
    },
];

export interface AdmissionOptions {
    /** The platform guard config; annotations never exempt in the API server (anyone who can apply can annotate). */
    readonly config: GuardConfig;
    /** Namespaces the binding skips. Defaults to none; each entry shows in review. */
    readonly excludedNamespaces?: readonly string[];
    /** Day used to drop expired exemptions: the API server's CEL has no clock, so expiry takes effect at the next deploy. */
    readonly now: Date;
}

/** An exemption as rows of [kind, namespace, name, policy, allowance type, value, "readOnly" or ""]; a whole-rule exemption has type "". */
function exemptionRows(e: PlatformExemption): string[][] {
    const head = [e.kind, e.namespace ?? "", e.name];
    const allowances: string[][] =
        e.allow === undefined
            ? [["", "", ""]]
            : [
                  ...(e.allow.hostPaths ?? []).map((h) => ["hostPath", normalizeHostPath(h.path), h.readOnly ? "readOnly" : ""]),
                  ...(e.allow.capabilities ?? []).map((c) => ["capability", normalizeCapability(c), ""]),
                  ...(e.allow.privileged ? [["privileged", "", ""]] : []),
                  ...(e.allow.hostNamespaces ?? []).map((n) => ["hostNamespace", n, ""]),
              ];
    return e.policies.flatMap((p) => allowances.map((a) => [...head, p, ...a]));
}

/** The variables every rule's expression may use (cel.ts names them). */
function variables(config: GuardConfig, now: Date) {
    const today = now.toISOString().slice(0, 10);
    const exemptions = config.exemptions
        .filter((e) => e.expires === undefined || e.expires >= today)
        .flatMap(exemptionRows)
        .map((row) => `[${row.map(celString).join(", ")}]`);
    const provisioned = config.provisionedVolumes.map(provisionerOf).map((p) => `[${celString(p.identity)}, ${celString(p.path)}]`);
    const list = (field: string) => `(has(${POD_SPEC}.${field}) ? ${POD_SPEC}.${field} : [])`;
    // CEL has no flatten: the shape pod specs' lists are joined one by one, up to SHAPE_MAX_POD_SPECS
    // (each bound to `p` by a one-element map, as has() takes only a field of a name).
    const unrolled = (each: (p: string) => string) =>
        Array.from(
            { length: SHAPE_MAX_POD_SPECS },
            (_, i) => `(size(variables.podSpecs) > ${i} ? [variables.podSpecs[${i}]].map(p, ${each("p")})[0] : [])`,
        ).join(" + ");
    return [
        { name: "byShape", expression: READ_BY_SHAPE_CEL },
        {
            name: "podSpec",
            expression:
                'variables.byShape || object.kind == "PersistentVolume" ? {} : object.kind == "Pod" ? object.spec : object.kind == "PodTemplate" ? object.template.spec : ' +
                'object.kind == "CronJob" ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec',
        },
        {
            name: "podSpecs",
            expression: `variables.byShape ? ${shapePodSpecsCel()} : object.kind == "PersistentVolume" ? [] : [${POD_SPEC}]`,
        },
        {
            name: "containers",
            expression: `variables.byShape ? ${unrolled((p) => `(${shapeContainersCel(p)})`)} : ${list("initContainers")} + ${list("containers")} + ${list("ephemeralContainers")}`,
        },
        {
            name: "volumes",
            expression: `variables.byShape ? ${unrolled((p) => `(has(${p}.volumes) && type(${p}.volumes) == list ? ${p}.volumes : [])`)} : has(${POD_SPEC}.volumes) ? ${POD_SPEC}.volumes : []`,
        },
        // `namespace` is a reserved word in CEL: the API server refuses it as a variable name.
        { name: "objectNamespace", expression: 'has(object.metadata.namespace) ? object.metadata.namespace : ""' },
        { name: "exemptions", expression: `[${exemptions.join(", ")}]` },
        { name: "controllerRef", expression: CONTROLLER_REF_CEL },
        { name: "owners", expression: OWNERS_CEL },
        // The exemption rows for the object or an owner its creator proves (ownership.ts).
        {
            name: "matched",
            expression: "variables.exemptions.filter(x, x[1] == variables.objectNamespace && variables.owners.exists(o, o[0] == x[0] && o[1] == x[2]))",
        },
        { name: "allowed", expression: 'variables.matched.filter(x, x[4] != "").map(x, [x[3], x[4], x[5], x[6]])' },
        // Pods a DaemonSet's controller creates are judged as their DaemonSet is.
        { name: "fromDaemonSet", expression: 'variables.owners.exists(o, o[0] == "DaemonSet")' },
        // What an exemption for this object names, once for every refusal's message: the owner the creating controller proved.
        {
            name: "exemptionSubject",
            expression:
                '"kind: " + variables.owners[size(variables.owners) - 1][0] + (variables.objectNamespace == "" ? "" : ", namespace: " + variables.objectNamespace) + ' +
                '", name: " + variables.owners[size(variables.owners) - 1][1]',
        },
        { name: "provisioned", expression: `[${provisioned.join(", ")}]` },
    ];
}

/** The ValidatingAdmissionPolicy and its binding for `rules`, as plain objects. */
export function admissionManifests(name: string, rules: readonly Rule[], options: AdmissionOptions) {
    const exempt = (id: string) => `variables.matched.exists(x, x[3] == ${celString(id)} && x[4] == "")`;
    const validations = rules.flatMap((rule) => {
        if ("none" in rule.admission) return [];
        const message = `${rule.id}: ${rule.admission.message} (oceanid guardrails; run oceanid-guard on the manifest for details)`;
        return [
            {
                expression: `${exempt(rule.id)} || (${rule.admission.expression})`,
                message,
                messageExpression:
                    `${celString(`${message}. If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{`)} + ` +
                    `variables.exemptionSubject + ${celString(`, policies: [${rule.id}], reason: "<why this is safe>"}].`)}`,
                reason: "Forbidden",
            },
        ];
    });
    const excluded = options.excludedNamespaces ?? [];
    const policy = {
        metadata: { name },
        spec: {
            failurePolicy: "Fail",
            matchConstraints: { resourceRules: GUARDED_RESOURCES, excludeResourceRules: EXCLUDED_RESOURCES },
            matchConditions: MATCH_CONDITIONS,
            variables: variables(options.config, options.now),
            validations,
        },
    };
    const binding = {
        metadata: { name: `${name}-binding` },
        spec: {
            policyName: name,
            validationActions: ["Deny", "Audit"],
            ...(excluded.length === 0
                ? {}
                : {
                      matchResources: {
                          namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...excluded] }] },
                      },
                  }),
        },
    };
    return { policy, binding };
}
