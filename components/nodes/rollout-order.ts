import type { NodeConfig } from "../config/stack-config";

/**
 * The order node changes go in: the server first (agents must never be newer
 * than it), then the canary, then every other agent in config order. The
 * settings are validated, so there is exactly one server and one canary.
 */
export function rolloutOrder(nodes: readonly NodeConfig[]): NodeConfig[] {
    const server = nodes.filter((n) => n.role === "server");
    const canary = nodes.filter((n) => n.role === "agent" && n.canary);
    const rest = nodes.filter((n) => n.role === "agent" && !n.canary);
    return [...server, ...canary, ...rest];
}
