// The guardrails as a ValidatingAdmissionPolicy: the API server itself
// refuses what the pack and oceanid-guard refuse, so a plain `kubectl apply`
// cannot get around them. Each rule brings its own CEL (Rule.admission); this
// builder adds the shared variables, the platform exemptions and the binding.
import { celString, POD_SPEC } from "./cel";
import type { GuardConfig } from "./guard-config";
import { POD_CARRYING_KINDS, READ_BY_SHAPE_CEL, SHAPE_MAX_POD_SPECS, shapeContainersCel, shapePodSpecsCel } from "./pod-spec";
import type { Rule } from "./rule";

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
];

export interface AdmissionOptions {
    /** The platform guard config; annotations never exempt in the API server (anyone who can apply can annotate). */
    readonly config: GuardConfig;
    /** Namespaces the binding skips. Defaults to none; each entry shows in review. */
    readonly excludedNamespaces?: readonly string[];
    /** Day used to drop expired exemptions: the API server's CEL has no clock, so expiry takes effect at the next deploy. */
    readonly now: Date;
}

/** The variables every rule's expression may use (cel.ts names them). */
function variables(config: GuardConfig, now: Date) {
    const today = now.toISOString().slice(0, 10);
    const exemptions = config.exemptions
        .filter((e) => e.expires === undefined || e.expires >= today)
        .flatMap((e) => e.policies.map((p) => `[${[e.kind, e.namespace ?? "", e.name, p].map(celString).join(", ")}]`));
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
    ];
}

/** The ValidatingAdmissionPolicy and its binding for `rules`, as plain objects. */
export function admissionManifests(name: string, rules: readonly Rule[], options: AdmissionOptions) {
    const exempt = (id: string) =>
        `variables.exemptions.exists(x, x[0] == object.kind && x[1] == variables.objectNamespace && x[2] == object.metadata.name && x[3] == ${celString(id)})`;
    const validations = rules.flatMap((rule) => {
        if ("none" in rule.admission) return [];
        return [
            {
                expression: `${exempt(rule.id)} || (${rule.admission.expression})`,
                message: `${rule.id}: ${rule.admission.message} (oceanid guardrails; run oceanid-guard on the manifest for details)`,
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
