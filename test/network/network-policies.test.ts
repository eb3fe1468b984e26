import { describe, expect, it } from "vitest";
import { gatewaySettings } from "../../components/network/egress-gateway";
import { gatewayPolicies, optInPolicy, proxyEnv } from "../../components/network/gateway-network-policies";

const s = () =>
    gatewaySettings("egress-gateway", {
        exitNode: "100.121.150.65",
        optInNamespaces: ["apps", "workers"],
        apiServerAccess: ["workers"],
        apiServer: { address: "192.0.2.10" },
        probeSources: ["192.0.2.10", "192.0.2.20"],
    });
const DNS = {
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
    ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
    ],
};

describe("gateway namespace policies", () => {
    const [deny, ingress, egress] = gatewayPolicies(s());

    it("deny everything by default", () => expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] }));

    it("let in only opted-in namespaces on the proxy port, and node probes on the health port", () => {
        expect(ingress.spec.ingress).toEqual([
            {
                from: [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["apps", "workers"] }] } }],
                ports: [{ protocol: "TCP", port: 1055 }],
            },
            { from: [{ ipBlock: { cidr: "192.0.2.10/32" } }, { ipBlock: { cidr: "192.0.2.20/32" } }], ports: [{ protocol: "TCP", port: 9002 }] },
        ]);
    });

    it("let out DNS, and the internet minus the cluster's CIDRs on Tailscale's ports only", () => {
        expect(egress.spec.egress).toEqual([
            DNS,
            {
                to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.42.0.0/16", "10.43.0.0/16"] } }],
                ports: [
                    { protocol: "TCP", port: 443 },
                    { protocol: "UDP", port: 3478 },
                    { protocol: "UDP", port: 41641 },
                ],
            },
        ]);
    });
});

describe("opted-in namespace policy", () => {
    it("allows DNS and the gateway's proxy port, nothing else", () => {
        const p = optInPolicy(s(), "apps");
        expect(p.metadata).toEqual({ name: "egress-gateway-only", namespace: "apps", labels: { "app.kubernetes.io/managed-by": "egress-gateway" } });
        expect(p.spec.policyTypes).toEqual(["Egress"]);
        expect(p.spec.podSelector).toEqual({});
        expect(p.spec.egress).toEqual([
            DNS,
            {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "egress-gateway" } },
                        podSelector: { matchLabels: { "app.kubernetes.io/name": "egress-gateway", "app.kubernetes.io/instance": "egress-gateway" } },
                    },
                ],
                ports: [{ protocol: "TCP", port: 1055 }],
            },
        ]);
    });

    it("adds the API server only where asked", () => {
        expect(optInPolicy(s(), "workers").spec.egress[2]).toEqual({ to: [{ ipBlock: { cidr: "192.0.2.10/32" } }], ports: [{ protocol: "TCP", port: 6443 }] });
    });
});

describe("proxyEnv", () => {
    it("points HTTP(S) at the HTTP proxy, the rest at SOCKS5 with remote DNS, and keeps the cluster direct", () => {
        expect(proxyEnv(s())).toEqual({
            HTTP_PROXY: "http://egress-gateway.egress-gateway.svc.cluster.local:1055",
            HTTPS_PROXY: "http://egress-gateway.egress-gateway.svc.cluster.local:1055",
            ALL_PROXY: "socks5h://egress-gateway.egress-gateway.svc.cluster.local:1055",
            NO_PROXY: "localhost,127.0.0.1,.svc,.cluster.local,10.42.0.0/16,10.43.0.0/16",
        });
    });
});
