import { GATEWAY_DEFAULTS } from "./gateway-workload";
import { appendOnce, TAILNET_DEFAULTS, union, type Policy } from "./tailnet-policy";

/** The kubelet's API port: open on every node, never CI's business. */
const KUBELET_PORT = 10250;

/** One node as CI reaches it over the tailnet. */
export interface CiTailnetNode {
    name: string;
    /** The node's Tailscale IP (`addresses.tailscale`); undefined fails the build with the fix. */
    tailscale: string | undefined;
    /** The node's SSH port (`ssh.port`). */
    sshPort: number;
}

/** What CI's deploy and scheduled jobs need from the tailnet: SSH on every node, the API server on the server. */
export interface CiTailnetNeeds {
    /** Tag the CI runner joins with (an ephemeral node, for one job). @default "tag:oceanid-ci" */
    ciTag: string;
    /** Who may assign the tag (the OAuth client that mints CI's keys must own it too). @default ["autogroup:admin"] */
    tagOwners: string[];
    /** Every node of the stack. */
    nodes: CiTailnetNode[];
    /** The server node's name and the API server's port (from the server URL). */
    apiServer: { node: string; port: number };
    /** The gateway's tag: CI must not reach its proxy. @default "tag:k8s-egress" */
    gatewayTag: string;
}

export const CI_TAILNET_DEFAULTS = { ciTag: "tag:oceanid-ci", tagOwners: ["autogroup:admin"], gatewayTag: TAILNET_DEFAULTS.gatewayTag } as const;

/** Each node's Tailscale IP; a node without one cannot be reached by CI, which is an error naming it. */
function tailscaleIps(nodes: readonly CiTailnetNode[]): Map<string, string> {
    const missing = nodes.filter((n) => n.tailscale === undefined).map((n) => n.name);
    if (missing.length > 0) {
        throw new Error(
            `tailnet CI access: ${missing.join(", ")} ${missing.length === 1 ? "has" : "have"} no addresses.tailscale; ` +
                "CI reaches the nodes only over the tailnet: set it ('tailscale ip -4' on the node)",
        );
    }
    return new Map(nodes.map((n) => [n.name, n.tailscale!]));
}

/**
 * The policy plus CI's access, nothing of the base dropped: tag owners for the
 * CI tag, one grant per SSH port to the nodes' Tailscale IPs, one grant to the
 * server's API port, and a policy test that fails the update if CI can reach
 * anything else tested (the gateway's proxy, kubelets, an agent's API port) or
 * can no longer reach what it needs. Applying it twice changes nothing.
 */
export function withCiAccess(base: Policy, needs: CiTailnetNeeds): Policy {
    const ips = tailscaleIps(needs.nodes);
    const server = ips.get(needs.apiServer.node);
    if (server === undefined) throw new Error(`tailnet CI access: the API server's node "${needs.apiServer.node}" is not one of the nodes`);
    const ports = [...new Set(needs.nodes.map((n) => n.sshPort))];
    const grants = [
        ...ports.map((port) => ({ src: [needs.ciTag], dst: needs.nodes.filter((n) => n.sshPort === port).map((n) => ips.get(n.name)!), ip: [`tcp:${port}`] })),
        { src: [needs.ciTag], dst: [server], ip: [`tcp:${needs.apiServer.port}`] },
    ];
    const test = {
        src: needs.ciTag,
        proto: "tcp",
        accept: [...needs.nodes.map((n) => `${ips.get(n.name)}:${n.sshPort}`), `${server}:${needs.apiServer.port}`],
        deny: [
            `${needs.gatewayTag}:${GATEWAY_DEFAULTS.proxyPort}`,
            ...needs.nodes.map((n) => `${ips.get(n.name)}:${KUBELET_PORT}`),
            ...needs.nodes.filter((n) => n.name !== needs.apiServer.node).map((n) => `${ips.get(n.name)}:${needs.apiServer.port}`),
        ],
    };
    return {
        ...base,
        tagOwners: { ...base.tagOwners, [needs.ciTag]: union(base.tagOwners?.[needs.ciTag], needs.tagOwners) },
        grants: appendOnce(base.grants, grants),
        tests: appendOnce(base.tests, [test]),
    };
}
