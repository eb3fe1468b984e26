/**
 * What the tailnet's control server says of one node: online, holding the expected address, and
 * (for the exit node) with its exit routes approved. Asked of Tailscale's API for a real tailnet,
 * or of headscale's for a self-hosted one (the lab). The key comes from the environment
 * ({@link TAILNET_KEY_ENV}), never from a flag.
 */
import { normalizeAddress } from "../../lib/addresses";
import type { ProbeResult } from "./probes";

export const TAILNET_KEY_ENV = "OCEANID_TAILNET_API_KEY";
export const EXIT_ROUTES = ["0.0.0.0/0", "::/0"] as const;

export interface TailnetCheck {
    /** Which control server: Tailscale's API (`https://api.tailscale.com`) or a headscale server's. */
    api: "tailscale" | "headscale";
    /** The API's base URL. */
    url: string;
    /** Tailscale API tailnet name (`-`: the key's own). Unused by headscale. */
    tailnet: string;
    /** The machine's host name in the tailnet (`tailscale up --hostname`). */
    hostname: string;
    /** The Tailscale address it must hold (e.g. `egress.exitNode`). */
    address?: string;
    /** Whether it must have its exit routes approved. */
    exitNode: boolean;
}

/** What the exit node's gate and the exporter ask the control server: online, holding egress.exitNode, exit routes approved. */
export function exitNodeTailnetCheck(node: string, controlApi: { kind: TailnetCheck["api"]; url: string }, address: string): TailnetCheck {
    return { api: controlApi.kind, url: controlApi.url, tailnet: "-", hostname: node, address, exitNode: true };
}

/** One device as both APIs describe it. */
export interface TailnetDevice {
    hostname: string;
    addresses: string[];
    online: boolean;
    advertisedRoutes: string[];
    approvedRoutes: string[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** Devices from `GET /api/v2/tailnet/<tailnet>/devices?fields=all`. */
export function tailscaleDevices(body: unknown): TailnetDevice[] {
    const devices = (body as { devices?: unknown })?.devices;
    if (!Array.isArray(devices)) throw new Error("the answer has no devices list");
    return devices.map((d: Record<string, unknown>) => ({
        hostname: String(d.hostname ?? ""),
        addresses: strings(d.addresses),
        online: d.connectedToControl === true,
        advertisedRoutes: strings(d.advertisedRoutes),
        approvedRoutes: strings(d.enabledRoutes),
    }));
}

/** Nodes from headscale's `GET /api/v1/node`. */
export function headscaleDevices(body: unknown): TailnetDevice[] {
    const nodes = (body as { nodes?: unknown })?.nodes;
    if (!Array.isArray(nodes)) throw new Error("the answer has no nodes list");
    return nodes.map((n: Record<string, unknown>) => ({
        hostname: String(n.name ?? ""),
        addresses: strings(n.ipAddresses),
        online: n.online === true,
        advertisedRoutes: strings(n.availableRoutes),
        approvedRoutes: strings(n.approvedRoutes),
    }));
}

/** What is wrong with the node as the control server sees it; empty when nothing is. */
export function tailnetDeviceProblems(check: TailnetCheck, devices: readonly TailnetDevice[]): string[] {
    const named = devices.filter((d) => d.hostname === check.hostname);
    if (named.length === 0) return [`tailnet: the control server knows no machine named ${check.hostname}`];
    const want = check.address === undefined ? undefined : normalizeAddress(check.address);
    const holding = want === undefined ? named : named.filter((d) => d.addresses.some((a) => normalizeAddress(a) === want));
    if (holding.length === 0) {
        const held = [...new Set(named.flatMap((d) => d.addresses))].join(", ") || "no address";
        return [`tailnet: ${check.hostname} holds ${held}, not ${check.address}; the gateway sends egress to ${check.address}`];
    }
    const online = holding.filter((d) => d.online);
    if (online.length === 0) return [`tailnet: ${check.hostname} is not online in the control server`];
    if (!check.exitNode) return [];
    const has = (routes: string[]) => EXIT_ROUTES.every((r) => routes.includes(r));
    if (online.some((d) => has(d.approvedRoutes))) return [];
    if (online.some((d) => has(d.advertisedRoutes))) {
        return [`tailnet: ${check.hostname} advertises exit routes that are not approved (autoApprovers.exitNode must name its tag)`];
    }
    return [`tailnet: ${check.hostname} does not advertise exit routes`];
}

/** The control server's machines, or why it could not be asked (a `tailnet: ...` reason). */
export type TailnetDevices = { ok: true; devices: TailnetDevice[] } | { ok: false; reason: string };

/** Every machine the control server knows; a failure to ask is said, never thrown. */
export async function tailnetDevices(check: TailnetCheck, key: string, timeoutMs: number): Promise<TailnetDevices> {
    const base = check.url.replace(/\/+$/, "");
    const url = check.api === "tailscale" ? `${base}/api/v2/tailnet/${encodeURIComponent(check.tailnet)}/devices?fields=all` : `${base}/api/v1/node`;
    let body: unknown;
    try {
        const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok)
            return {
                ok: false,
                reason: `tailnet: ${check.api} API ${base} answered ${res.status}${res.status === 401 || res.status === 403 ? " (is the API key valid?)" : ""}`,
            };
        body = await res.json();
    } catch (err) {
        const e = err as Error;
        const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000}s` : ((e.cause as Error | undefined)?.message ?? e.message);
        return { ok: false, reason: `tailnet: cannot ask the ${check.api} API at ${base}: ${why}` };
    }
    try {
        return { ok: true, devices: check.api === "tailscale" ? tailscaleDevices(body) : headscaleDevices(body) };
    } catch (err) {
        return { ok: false, reason: `tailnet: the ${check.api} API at ${base} gave an unexpected answer: ${(err as Error).message}` };
    }
}

/** Asks the control server; a failure to ask is a problem of this poll, like an API server that does not answer. */
export async function probeTailnet(check: TailnetCheck, key: string, timeoutMs: number): Promise<ProbeResult> {
    const answer = await tailnetDevices(check, key, timeoutMs);
    if (!answer.ok) return answer;
    const problems = tailnetDeviceProblems(check, answer.devices);
    return problems.length === 0 ? { ok: true } : { ok: false, reason: problems.join("; ") };
}

/** The machine (named `check.hostname`, holding `check.address` when given) has both exit routes approved, online or not. */
export function exitRoutesApproved(check: TailnetCheck, devices: readonly TailnetDevice[]): boolean {
    const want = check.address === undefined ? undefined : normalizeAddress(check.address);
    return devices.some(
        (d) =>
            d.hostname === check.hostname &&
            (want === undefined || d.addresses.some((a) => normalizeAddress(a) === want)) &&
            EXIT_ROUTES.every((r) => d.approvedRoutes.includes(r)),
    );
}
