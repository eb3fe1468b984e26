/**
 * The I/O half of the health check: the Kubernetes API, an SSH handshake with a pinned host key,
 * and the server's /ping. Each returns plain data for node-health.ts to judge.
 */
import { CoordinationV1Api, CoreV1Api, ApiException, Observable, type KubeConfig, type ObservableMiddleware } from "@kubernetes/client-node";
import { request } from "node:https";
import { Client, type ServerHostKeyAlgorithm } from "ssh2";
import type { NodeObservation } from "./node-health";
import { fingerprint, hostPort, keyType, parseHostKey } from "./ssh-host";

/** The namespace where every kubelet renews a Lease named after its node, every 10 s. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** What the API server says about the nodes, by node name. */
export interface KubeState {
    nodes: Map<string, { ready?: NodeObservation["ready"]; kubeletVersion?: string }>;
    leases: Map<string, Date | undefined>;
}

/**
 * The API server could not be asked (unreachable, TLS, credentials refused, timed out). Its message
 * never carries any part of the kubeconfig, which may have come in as a secret.
 */
export class KubeApiError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "KubeApiError";
    }
}

/** Lists Nodes and node Leases; throws {@link KubeApiError} when the API server cannot be asked. */
export async function observeKubernetes(kc: KubeConfig, timeoutMs: number): Promise<KubeState> {
    const signal = AbortSignal.timeout(timeoutMs);
    // client-node builds a keep-alive connection pool per request and never closes it: a CLI
    // would linger for seconds after its answer, and the gate would pile up one pool per poll.
    const pools: Array<{ destroy(): Promise<void> }> = [];
    const middleware: ObservableMiddleware = {
        pre: (ctx) => {
            ctx.setSignal(signal);
            const pool = ctx.getDispatcher();
            if (pool) pools.push(pool);
            return new Observable(Promise.resolve(ctx));
        },
        post: (res) => new Observable(Promise.resolve(res)),
    };
    const options = { middleware: [middleware], middlewareMergeStrategy: "append" as const };
    try {
        const [nodeList, leaseList] = await Promise.all([
            kc.makeApiClient(CoreV1Api).listNode({}, options),
            kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: NODE_LEASE_NAMESPACE }, options),
        ]);
        const state: KubeState = { nodes: new Map(), leases: new Map() };
        for (const node of nodeList.items) {
            const ready = node.status?.conditions?.find((c) => c.type === "Ready");
            state.nodes.set(node.metadata?.name ?? "", {
                ready: ready && { status: ready.status, reason: ready.reason, message: ready.message },
                kubeletVersion: node.status?.nodeInfo?.kubeletVersion,
            });
        }
        for (const lease of leaseList.items) {
            const renewed = lease.spec?.renewTime;
            state.leases.set(lease.metadata?.name ?? "", renewed === undefined ? undefined : new Date(renewed));
        }
        return state;
    } catch (err) {
        throw new KubeApiError(describeApiError(err, signal, timeoutMs));
    } finally {
        await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
    }
}

/** The Kubernetes half of a node's observation, joined with its SSH result. */
export function observation(name: string, kube: KubeState, ssh: NodeObservation["ssh"]): NodeObservation {
    const node = kube.nodes.get(name);
    return {
        name,
        registered: node !== undefined,
        ready: node?.ready,
        kubeletVersion: node?.kubeletVersion,
        leaseRenewTime: kube.leases.get(name),
        ssh,
    };
}

/**
 * Short, secret-free words for why an API call failed. Error codes, not messages: a TLS message
 * quotes the server address, and ApiException's message dumps bodies and headers.
 */
function describeApiError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
    if (signal.aborted) return `timed out after ${seconds(timeoutMs)}s`;
    if (err instanceof ApiException) {
        const code = err.code as number;
        const status = statusMessage(err.body);
        const what = `HTTP ${code}${STATUS_TEXT[code] ? ` ${STATUS_TEXT[code]}` : ""}${status ? `: ${status}` : ""}`;
        return code === 401 || code === 403 ? `refused the credentials (${what})` : `answered ${what}`;
    }
    const cause = (err as { cause?: unknown })?.cause ?? err;
    const net = netError(cause);
    if (net) return net.startsWith("TLS") ? `failed TLS verification (${net})` : `unreachable (${net})`;
    // Anything else comes from client-node reading the kubeconfig (say, an http:// server without
    // insecure-skip-tls-verify); its first line is the point and holds no credential.
    return `cannot be asked (${firstLine(err)})`;
}

const STATUS_TEXT: Record<number, string> = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
};

/** The `message` of a Kubernetes Status body, when the body is one. */
function statusMessage(body: unknown): string | undefined {
    let value = body;
    if (typeof value === "string") {
        try {
            value = JSON.parse(value);
        } catch {
            return undefined;
        }
    }
    const message = (value as { message?: unknown } | null)?.message;
    return typeof message === "string" ? truncate(message.split("\n")[0], 200) : undefined;
}

/** `connect ECONNREFUSED`, `TLS DEPTH_ZERO_SELF_SIGNED_CERT`, ... for Node's network errors; else undefined. */
function netError(err: unknown): string | undefined {
    // Happy-eyeballs connects fail with an AggregateError whose members carry the codes.
    const e = (err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err) as { code?: unknown; syscall?: unknown; message?: unknown } | null;
    const code = typeof e?.code === "string" ? e.code : (err as { code?: unknown } | null)?.code;
    if (typeof code !== "string") return undefined;
    if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(code)) return `TLS ${code}`;
    return typeof e?.syscall === "string" ? `${e.syscall} ${code}` : code;
}

function firstLine(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return truncate(message.split("\n")[0], 200);
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const seconds = (ms: number) => Math.round((ms / 1000) * 10) / 10;

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * Offer only the pinned key's type, so a server with several host keys shows the pinned one
 * (offered everything, it would show its preferred type and look like a mismatch).
 */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
    return (type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type]) as ServerHostKeyAlgorithm[];
}

/**
 * Reachable over SSH with the pinned host key: the key exchange completes and the server proves
 * the pinned key. No credential is offered; the connection closes once the handshake is done
 * (a server refusing authentication after that is reachable too).
 */
export function probeSsh(host: string, port: number, hostKey: string, timeoutMs: number): Promise<ProbeResult> {
    const where = `ssh ${hostPort(host, port)}`;
    const pinned = parseHostKey(hostKey);
    if (!pinned) return Promise.resolve({ ok: false, reason: `${where}: pinned host key is not "<type> <base64>" as ssh-keyscan prints it` });
    return new Promise((resolve) => {
        const client = new Client();
        let done = false;
        let mismatch: string | undefined;
        const finish = (result: ProbeResult) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            client.removeAllListeners();
            client.on("error", () => undefined);
            client.destroy();
            resolve(result);
        };
        const unreachable = (why: string) => finish({ ok: false, reason: `${where} unreachable (${why})` });
        const timer = setTimeout(() => unreachable(`timed out after ${seconds(timeoutMs)}s`), timeoutMs);
        client.on("handshake", () => finish({ ok: true }));
        client.on("ready", () => finish({ ok: true }));
        client.on("error", (err: Error & { level?: string; code?: string; syscall?: string }) => {
            if (mismatch) return finish({ ok: false, reason: mismatch });
            if (err.level === "client-authentication") return finish({ ok: true });
            if (/no matching host key format/i.test(err.message)) {
                return finish({ ok: false, reason: `${where} host key does not match the pinned key (the server has no ${pinned.type} host key)` });
            }
            unreachable(netError(err) ?? firstLine(err));
        });
        client.on("close", () => (mismatch ? finish({ ok: false, reason: mismatch }) : unreachable("connection closed during the handshake")));
        try {
            client.connect({
                host,
                port,
                username: "oceanid-health",
                // Our own timer decides; ssh2's only backs it up.
                readyTimeout: timeoutMs + 5000,
                algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
                hostVerifier: (key: Buffer) => {
                    if (keyType(key) === pinned.type && key.equals(pinned.blob)) return true;
                    mismatch = `${where} host key does not match the pinned key (got ${keyType(key) ?? "unknown"} ${fingerprint(key)})`;
                    return false;
                },
            });
        } catch (err) {
            unreachable(firstLine(err));
        }
    });
}

/** The server's `/ping` answers `pong` over TLS checked against `caPem` (else the system's CAs). */
export function pingServer(url: string, caPem?: string, timeoutMs = 5000): Promise<ProbeResult> {
    const failed = (why: string): ProbeResult => ({ ok: false, reason: `server ping ${url} failed (${why})` });
    return new Promise((resolve) => {
        let target: URL;
        try {
            target = new URL(`${url.replace(/\/+$/, "")}/ping`);
        } catch {
            return resolve(failed("not a URL"));
        }
        if (target.protocol !== "https:") return resolve(failed("not an https:// URL"));
        let done = false;
        const finish = (result: ProbeResult) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            req.destroy();
            resolve(result);
        };
        const req = request(target, { method: "GET", ca: caPem, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
                body += chunk;
                if (body.length > 1024) finish(failed("answer too long"));
            });
            res.on("end", () => {
                if (res.statusCode !== 200) return finish(failed(`HTTP ${res.statusCode}`));
                if (body.trim() !== "pong") return finish(failed(`answered ${JSON.stringify(truncate(body.trim(), 40))}, not "pong"`));
                finish({ ok: true });
            });
            res.on("error", (err) => finish(failed(netError(err) ?? firstLine(err))));
        });
        const timer = setTimeout(() => finish(failed(`timed out after ${seconds(timeoutMs)}s`)), timeoutMs);
        req.on("error", (err) => finish(failed(netError(err) ?? firstLine(err))));
        req.end();
    });
}
