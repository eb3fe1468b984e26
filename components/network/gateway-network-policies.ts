// NetworkPolicies that leave opted-in workloads one way out: the gateway.
// k3s enforces them with its embedded kube-router controller.
import { gatewayLabels } from "./gateway-workload";

export interface PolicySpec {
    name: string;
    /** The gateway's namespace. */
    namespace: string;
    proxyPort: number;
    healthPort: number;
    /** Namespaces whose egress goes through the gateway. */
    optIn: readonly string[];
    /** Of those, the ones whose pods may also reach the API server. */
    apiServerAccess: readonly string[];
    /** The API server as pods reach it (k3s: the server node's IP, port 6443). */
    apiServer?: { address: string; port: number };
    /** Cluster CIDRs the gateway may never reach: pods and services. */
    clusterCidrs: readonly string[];
    /** Where kubelet probes come from (the nodes), allowed to the health port only. */
    probeSources: readonly string[];
}

/** Tailscale's own traffic: control plane and DERP over HTTPS, STUN, WireGuard. */
export const TAILSCALE_PORTS = [
    { protocol: "TCP", port: 443 },
    { protocol: "UDP", port: 3478 },
    { protocol: "UDP", port: 41641 },
] as const;

const byName = (namespaces: readonly string[]) => ({
    matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...namespaces] }],
});

/** DNS to CoreDNS in kube-system, over UDP and TCP. */
export const dnsEgress = () => ({
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
    ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
    ],
});

const cidr = (address: string) => (address.includes(":") ? `${address}/128` : `${address}/32`);

/** The gateway namespace: deny everything, then let in the opted-in namespaces and let out Tailscale. */
export function gatewayPolicies(s: PolicySpec) {
    const gateway = { matchLabels: gatewayLabels(s.name) };
    const meta = (suffix: string) => ({ name: `${s.name}-${suffix}`, namespace: s.namespace });
    return [
        { metadata: meta("default-deny"), spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
        {
            metadata: meta("ingress"),
            spec: {
                podSelector: gateway,
                policyTypes: ["Ingress"],
                ingress: [
                    ...(s.optIn.length === 0 ? [] : [{ from: [{ namespaceSelector: byName(s.optIn) }], ports: [{ protocol: "TCP", port: s.proxyPort }] }]),
                    ...(s.probeSources.length === 0
                        ? []
                        : [{ from: s.probeSources.map((a) => ({ ipBlock: { cidr: cidr(a) } })), ports: [{ protocol: "TCP", port: s.healthPort }] }]),
                ],
            },
        },
        {
            metadata: meta("egress"),
            spec: {
                podSelector: gateway,
                policyTypes: ["Egress"],
                egress: [dnsEgress(), { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...s.clusterCidrs] } }], ports: TAILSCALE_PORTS.map((p) => ({ ...p })) }],
            },
        },
    ];
}

/** One opted-in namespace: no egress except DNS, the gateway's proxy port and, when asked, the API server. */
export function optInPolicy(s: PolicySpec, namespace: string) {
    const toApiServer =
        s.apiServer !== undefined && s.apiServerAccess.includes(namespace)
            ? [{ to: [{ ipBlock: { cidr: cidr(s.apiServer.address) } }], ports: [{ protocol: "TCP", port: s.apiServer.port }] }]
            : [];
    return {
        metadata: { name: `${s.name}-only`, namespace, labels: { "app.kubernetes.io/managed-by": s.name } },
        spec: {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                dnsEgress(),
                {
                    to: [
                        {
                            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": s.namespace } },
                            podSelector: { matchLabels: gatewayLabels(s.name) },
                        },
                    ],
                    ports: [{ protocol: "TCP", port: s.proxyPort }],
                },
                ...toApiServer,
            ],
        },
    };
}

/**
 * What a workload sets to use the gateway: HTTP(S) through the HTTP proxy,
 * everything else proxy-aware through SOCKS5 with remote DNS, and nothing
 * cluster-internal through either.
 */
export function proxyEnv(s: { name: string; namespace: string; proxyPort: number; clusterCidrs: readonly string[] }): Record<string, string> {
    const host = `${s.name}.${s.namespace}.svc.cluster.local:${s.proxyPort}`;
    return {
        HTTP_PROXY: `http://${host}`,
        HTTPS_PROXY: `http://${host}`,
        ALL_PROXY: `socks5h://${host}`,
        NO_PROXY: ["localhost", "127.0.0.1", ".svc", ".cluster.local", ...s.clusterCidrs].join(","),
    };
}
