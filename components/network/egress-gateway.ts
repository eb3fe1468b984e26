import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { gatewayPolicies, optInPolicy, proxyEnv, type PolicySpec } from "./gateway-network-policies";
import {
    authKeySecretName,
    gatewayDeployment,
    gatewayDisruptionBudget,
    GATEWAY_DEFAULTS,
    gatewayNamespace,
    gatewayService,
    TAILSCALE_LOGS,
    type GatewaySpec,
    type TailscaleLogs,
} from "./gateway-workload";

export interface EgressGatewayArgs {
    /** The exit node's Tailscale IP, or `auto:any` (validated by the stack config). */
    exitNode: string;
    /**
     * Tailscale auth key, kept in the Secret `<name>-authkey` (key `authkey`) that the pods read.
     * Omit it where manifests are rendered to files, which must never hold the key: the Secret is
     * then created outside Pulumi (`kubectl create secret generic <name>-authkey --from-literal=authkey=...`).
     */
    authKey?: pulumi.Input<string>;
    /** Namespaces whose egress is forced through the gateway. Defaults to none. */
    optInNamespaces?: string[];
    /** Opted-in namespaces whose pods may also reach the API server. Defaults to none. */
    apiServerAccess?: string[];
    /** The API server as pods reach it; needed when `apiServerAccess` is not empty. Port defaults to 6443. */
    apiServer?: { address: string; port?: number };
    /** The gateway's namespace. Defaults to the component's name. */
    namespace?: string;
    /** Image with a pinned tag. Defaults to "tailscale/tailscale:v1.102.3". */
    image?: string;
    /** Image digest ("sha256:..."), appended to the image when given. */
    imageDigest?: string;
    /** Port of both the SOCKS5 and the HTTP proxy. Defaults to 1055. */
    proxyPort?: number;
    /** Port of containerboot's /healthz. Defaults to 9002. */
    healthPort?: number;
    /** Defaults to 2 (spread over nodes, at least 1 kept through disruptions). */
    replicas?: number;
    /** Defaults to requests 50m/64Mi, limits 500m/256Mi. */
    resources?: GatewaySpec["resources"];
    /** Pod and service CIDRs the gateway must never reach. Defaults to k3s's 10.42.0.0/16 and 10.43.0.0/16. */
    clusterCidrs?: string[];
    /**
     * Whether tailscaled uploads its logs to Tailscale (log.tailscale.com): "off" (the default)
     * renders TS_NO_LOGS_NO_SUPPORT=true, "upload" renders it false. Tailscale's support needs the
     * logs; a tailnet whose policy requires logging refuses a node that has them off.
     */
    tailscaleLogs?: TailscaleLogs;
    /** Node addresses kubelet probes come from, allowed to the health port (the liveness probe). Defaults to none. */
    probeSources?: string[];
    provider: k8s.Provider;
}

/** The component's settings with every default filled in. */
export function gatewaySettings(name: string, args: Omit<EgressGatewayArgs, "authKey" | "provider">): GatewaySpec & PolicySpec {
    const apiServer = args.apiServer === undefined ? undefined : { address: args.apiServer.address, port: args.apiServer.port ?? 6443 };
    if ((args.apiServerAccess ?? []).length > 0 && apiServer === undefined) {
        throw new Error(`EgressGateway ${name}: apiServerAccess lists ${args.apiServerAccess!.join(", ")} but apiServer is not set`);
    }
    const tailscaleLogs = args.tailscaleLogs ?? GATEWAY_DEFAULTS.tailscaleLogs;
    if (!TAILSCALE_LOGS.includes(tailscaleLogs)) {
        throw new Error(`EgressGateway ${name}: tailscaleLogs is ${JSON.stringify(tailscaleLogs)}; use ${TAILSCALE_LOGS.map((v) => `"${v}"`).join(" or ")}`);
    }
    return {
        name,
        namespace: args.namespace ?? name,
        exitNode: args.exitNode,
        image: args.image ?? GATEWAY_DEFAULTS.image,
        ...(args.imageDigest === undefined ? {} : { imageDigest: args.imageDigest }),
        proxyPort: args.proxyPort ?? GATEWAY_DEFAULTS.proxyPort,
        healthPort: args.healthPort ?? GATEWAY_DEFAULTS.healthPort,
        replicas: args.replicas ?? GATEWAY_DEFAULTS.replicas,
        resources: args.resources ?? structuredClone(GATEWAY_DEFAULTS.resources),
        tailscaleLogs,
        optIn: args.optInNamespaces ?? [],
        apiServerAccess: args.apiServerAccess ?? [],
        ...(apiServer === undefined ? {} : { apiServer }),
        clusterCidrs: args.clusterCidrs ?? ["10.42.0.0/16", "10.43.0.0/16"],
        probeSources: args.probeSources ?? [],
    };
}

/**
 * Tailscale egress from the pod network: a Deployment of Tailscale in
 * userspace mode offering an HTTP/SOCKS5 proxy that leaves through the exit
 * node, and NetworkPolicies that give opted-in namespaces no other way out.
 */
export class EgressGateway extends pulumi.ComponentResource {
    /** `host:port` of the proxy Service. */
    readonly serviceAddress: string;
    /** HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY for workloads in opted-in namespaces. */
    readonly proxyEnv: Record<string, string>;

    constructor(name: string, args: EgressGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:network:EgressGateway", name, {}, opts);
        const s = gatewaySettings(name, args);
        const child = { parent: this, provider: args.provider };

        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, gatewayNamespace(s.namespace), child);
        const inNs = { ...child, dependsOn: [ns] };
        const secret =
            args.authKey === undefined
                ? []
                : [
                      new k8s.core.v1.Secret(
                          `${name}-authkey`,
                          {
                              metadata: { name: authKeySecretName(name), namespace: s.namespace },
                              type: "Opaque",
                              stringData: { authkey: pulumi.secret(args.authKey) },
                          },
                          inNs,
                      ),
                  ];
        // Policies first, so the pods never run without them.
        const policies = gatewayPolicies(s).map((p) => new k8s.networking.v1.NetworkPolicy(p.metadata.name, p, inNs));
        s.optIn.forEach((namespace) => new k8s.networking.v1.NetworkPolicy(`${name}-${namespace}-only`, optInPolicy(s, namespace), child));
        new k8s.apps.v1.Deployment(`${name}-deployment`, gatewayDeployment(s), { ...child, dependsOn: [...secret, ...policies] });
        new k8s.core.v1.Service(`${name}-service`, gatewayService(s), inNs);
        new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, gatewayDisruptionBudget(s), inNs);

        this.serviceAddress = `${name}.${s.namespace}.svc.cluster.local:${s.proxyPort}`;
        this.proxyEnv = proxyEnv(s);
        this.registerOutputs({ serviceAddress: this.serviceAddress, proxyEnv: this.proxyEnv });
    }
}
