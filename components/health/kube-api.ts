/**
 * One Kubernetes API request as this CLI makes it: bounded by a timeout, its connection pool
 * closed afterwards, and any failure turned into a short, secret-free {@link KubeApiError}.
 */
import { ApiException, Observable, type ObservableMiddleware } from "@kubernetes/client-node";

/**
 * The API server could not be asked, or refused the request. Its message never carries any part
 * of the kubeconfig, which may have come in as a secret.
 */
export class KubeApiError extends Error {
    constructor(
        message: string,
        /** The HTTP status when the API server answered; absent when it could not be asked. */
        readonly status?: number,
        /** The Kubernetes Status the API server answered with, when it sent one. */
        readonly apiStatus?: ApiStatus,
    ) {
        super(message);
        this.name = "KubeApiError";
    }
}

/** The parts of a Kubernetes `Status` body this CLI reads. */
export interface ApiStatus {
    message?: string;
    reason?: string;
    details?: { causes?: Array<{ reason?: string; message?: string }> };
}

/** The options client-node's object-parameter API methods take. */
export interface RequestOptions {
    middleware: ObservableMiddleware[];
    middlewareMergeStrategy: "append";
}

/**
 * Runs `call` with options that abort it after `timeoutMs` and set `contentType` (a patch's
 * strategy); throws {@link KubeApiError} when it fails.
 */
export async function kubeRequest<T>(timeoutMs: number, call: (options: RequestOptions) => Promise<T>, contentType?: string): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    // client-node builds a keep-alive connection pool per request and never closes it: a CLI
    // would linger for seconds after its answer, and a polling step would pile up one pool per poll.
    const pools: Array<{ destroy(): Promise<void> }> = [];
    const middleware: ObservableMiddleware = {
        pre: (ctx) => {
            ctx.setSignal(signal);
            if (contentType !== undefined) ctx.setHeaderParam("Content-Type", contentType);
            const pool = ctx.getDispatcher();
            if (pool) pools.push(pool);
            return new Observable(Promise.resolve(ctx));
        },
        post: (res) => new Observable(Promise.resolve(res)),
    };
    try {
        return await call({ middleware: [middleware], middlewareMergeStrategy: "append" });
    } catch (err) {
        if (err instanceof ApiException) throw new KubeApiError(describeApiError(err, signal, timeoutMs), err.code as number, apiStatus(err.body));
        throw new KubeApiError(describeApiError(err, signal, timeoutMs));
    } finally {
        await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
    }
}

/**
 * Short, secret-free words for why an API call failed. Error codes, not messages: a TLS message
 * quotes the server address, and ApiException's message dumps bodies and headers.
 */
function describeApiError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
    if (signal.aborted) return `timed out after ${seconds(timeoutMs)}s`;
    if (err instanceof ApiException) {
        const code = err.code as number;
        const status = apiStatus(err.body)?.message;
        const what = `HTTP ${code}${STATUS_TEXT[code] ? ` ${STATUS_TEXT[code]}` : ""}${status ? `: ${truncate(status.split("\n")[0], 200)}` : ""}`;
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
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
};

/** A Kubernetes Status body, when the body is one. */
function apiStatus(body: unknown): ApiStatus | undefined {
    let value = body;
    if (typeof value === "string") {
        try {
            value = JSON.parse(value);
        } catch {
            return undefined;
        }
    }
    if (value === null || typeof value !== "object") return undefined;
    const status = value as ApiStatus;
    return typeof status.message === "string" || typeof status.reason === "string" ? status : undefined;
}

/** `connect ECONNREFUSED`, `TLS DEPTH_ZERO_SELF_SIGNED_CERT`, ... for Node's network errors; else undefined. */
export function netError(err: unknown): string | undefined {
    // Happy-eyeballs connects fail with an AggregateError whose members carry the codes.
    const e = (err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err) as { code?: unknown; syscall?: unknown; message?: unknown } | null;
    const code = typeof e?.code === "string" ? e.code : (err as { code?: unknown } | null)?.code;
    if (typeof code !== "string") return undefined;
    if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(code)) return `TLS ${code}`;
    return typeof e?.syscall === "string" ? `${e.syscall} ${code}` : code;
}

export function firstLine(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return truncate(message.split("\n")[0], 200);
}

export const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
export const seconds = (ms: number) => Math.round((ms / 1000) * 10) / 10;
