import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { EGRESS_GATEWAY_DEPLOYMENT } from "../health/egress-gateway-name";

export const EXPORTER_NAMESPACE = "oceanid-monitoring";
export const EXPORTER_ACCOUNT = "oceanid-health";
export const EXPORTER_TOKEN_SECRET = "oceanid-health-token";

const labels = { "app.kubernetes.io/name": EXPORTER_ACCOUNT, "app.kubernetes.io/part-of": "oceanid" };

/**
 * What oceanid-health serve may do in the cluster, and nothing more: read the Nodes, the node
 * Leases, and the gateway's Deployment. The monitoring host holds this identity's token, never the
 * stack's admin kubeconfig.
 */
export function exporterRbac(opts: { gatewayNamespace?: string }): Array<Record<string, unknown>> {
    const meta = (name: string, namespace?: string) => ({ name, ...(namespace === undefined ? {} : { namespace }), labels });
    const subject = { kind: "ServiceAccount", name: EXPORTER_ACCOUNT, namespace: EXPORTER_NAMESPACE };
    const roleRef = (kind: string, name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name });
    const namespaced = (namespace: string, rule: Record<string, unknown>) => [
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(EXPORTER_ACCOUNT, namespace), rules: [rule] },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: meta(EXPORTER_ACCOUNT, namespace),
            roleRef: roleRef("Role", EXPORTER_ACCOUNT),
            subjects: [subject],
        },
    ];
    return [
        { apiVersion: "v1", kind: "Namespace", metadata: meta(EXPORTER_NAMESPACE) },
        { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(EXPORTER_ACCOUNT, EXPORTER_NAMESPACE), automountServiceAccountToken: false },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: meta(EXPORTER_ACCOUNT),
            rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] }],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: meta(EXPORTER_ACCOUNT),
            roleRef: roleRef("ClusterRole", EXPORTER_ACCOUNT),
            subjects: [subject],
        },
        ...namespaced("kube-node-lease", { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list"] }),
        ...(opts.gatewayNamespace === undefined
            ? []
            : namespaced(opts.gatewayNamespace, {
                  apiGroups: ["apps"],
                  resources: ["deployments"],
                  resourceNames: [EGRESS_GATEWAY_DEPLOYMENT],
                  verbs: ["get"],
              })),
        // A long-lived token the token controller fills in; the program waits for it.
        {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { ...meta(EXPORTER_TOKEN_SECRET, EXPORTER_NAMESPACE), annotations: { "kubernetes.io/service-account.name": EXPORTER_ACCOUNT } },
            type: "kubernetes.io/service-account-token",
        },
    ];
}

/**
 * A kubeconfig for the exporter: the admin kubeconfig's API server (its current context, or
 * `context`), the token's CA and bearer token, nothing else of the admin's.
 */
export function exporterKubeconfig(adminKubeconfig: string, token: { token: string; caCrt: string }, context?: string): string {
    const admin = parse(adminKubeconfig) as {
        "current-context"?: string;
        contexts?: Array<{ name: string; context: { cluster: string } }>;
        clusters?: Array<{ name: string; cluster: { server: string } }>;
    };
    const contextName = context ?? admin["current-context"];
    const cluster = admin.contexts?.find((c) => c.name === contextName)?.context.cluster;
    const server = admin.clusters?.find((c) => c.name === cluster)?.cluster.server;
    if (server === undefined) throw new Error(`the kubeconfig has no API server for context ${JSON.stringify(contextName)}`);
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "oceanid", cluster: { server, "certificate-authority-data": Buffer.from(token.caCrt, "utf8").toString("base64") } }],
        users: [{ name: EXPORTER_ACCOUNT, user: { token: token.token } }],
        contexts: [{ name: "oceanid", context: { cluster: "oceanid", user: EXPORTER_ACCOUNT } }],
        "current-context": "oceanid",
    });
}

export interface ExporterIdentityArgs {
    gatewayNamespace?: string;
    adminKubeconfig: pulumi.Input<string>;
    context?: string;
    provider: k8s.Provider;
}

type KubeCtor = new (name: string, args: never, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;
const CTORS: Record<string, KubeCtor> = {
    Namespace: k8s.core.v1.Namespace as unknown as KubeCtor,
    Secret: k8s.core.v1.Secret as unknown as KubeCtor,
    ServiceAccount: k8s.core.v1.ServiceAccount as unknown as KubeCtor,
    ClusterRole: k8s.rbac.v1.ClusterRole as unknown as KubeCtor,
    ClusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding as unknown as KubeCtor,
    Role: k8s.rbac.v1.Role as unknown as KubeCtor,
    RoleBinding: k8s.rbac.v1.RoleBinding as unknown as KubeCtor,
};

const fromBase64 = (v: string | undefined) => Buffer.from(v ?? "", "base64").toString("utf8");

/** The exporter's read-only identity in the cluster, and a kubeconfig (secret) that holds only it. */
export class ExporterIdentity extends pulumi.ComponentResource {
    readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: ExporterIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:monitoring:ExporterIdentity", name, {}, opts);
        const objects = exporterRbac(args.gatewayNamespace === undefined ? {} : { gatewayNamespace: args.gatewayNamespace });
        // Everything after the namespace and the account waits for both: the token controller deletes a
        // token Secret whose account does not exist yet.
        const first: pulumi.CustomResource[] = [];
        let secret: k8s.core.v1.Secret | undefined;
        for (const o of objects) {
            const namespace = (o.metadata as { namespace?: string }).namespace;
            const id = `${name}-${String(o.kind).toLowerCase()}${namespace === undefined ? "" : `-${namespace}`}`;
            const r = new CTORS[String(o.kind)](id, o as never, { parent: this, provider: args.provider, dependsOn: [...first] });
            if (o.kind === "Namespace" || o.kind === "ServiceAccount") first.push(r);
            if (o.kind === "Secret") secret = r as k8s.core.v1.Secret;
        }
        // The provider waits for the token controller to fill the Secret in.
        this.kubeconfig = pulumi.secret(
            pulumi.all([args.adminKubeconfig, secret!.data]).apply(([admin, data]) => {
                if (!data?.token) {
                    throw new Error(
                        `${EXPORTER_NAMESPACE}/${EXPORTER_TOKEN_SECRET} holds no token: the token controller (kube-controller-manager) fills it in; is it running?`,
                    );
                }
                return exporterKubeconfig(admin, { token: fromBase64(data.token), caCrt: fromBase64(data["ca.crt"]) }, args.context);
            }),
        );
        this.registerOutputs({});
    }
}
