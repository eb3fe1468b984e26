/**
 * One run of oceanid-health, whichever mode: its I/O (output scrubbed of kubeconfig credentials),
 * its probes, the kubeconfig it reads, and the two ways it stops early (exit 2).
 */
import { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import type { NodeApi } from "./node-api";
import type { KubeState, ProbeResult } from "./probes";
import type { TailnetCheck, TailnetDevices } from "./tailnet-device";

/** The observing side; tests and labs replace any of it. */
export interface Probes {
    /** Throws {@link KubeApiError} when the API server cannot be asked. */
    kubernetes(kc: KubeConfig, timeoutMs: number): Promise<KubeState>;
    ssh(host: string, port: number, hostKey: string, timeoutMs: number): Promise<ProbeResult>;
    ping(url: string, caPem: string | undefined, timeoutMs: number): Promise<ProbeResult>;
    /** What the tailnet's control server says of a node (gate --tailnet-api). */
    tailnet(check: TailnetCheck, key: string, timeoutMs: number): Promise<ProbeResult>;
    /** A Deployment's `status.readyReplicas` (0 when unset); undefined when there is no such Deployment (serve). Throws {@link KubeApiError}. */
    deploymentReadyReplicas(kc: KubeConfig, namespace: string, name: string, timeoutMs: number): Promise<number | undefined>;
    /** Every machine the tailnet's control server knows, or why it could not be asked (serve). */
    tailnetDevices(check: TailnetCheck, key: string, timeoutMs: number): Promise<TailnetDevices>;
}

export interface HealthIo {
    stdout(text: string): void;
    stderr(text: string): void;
    readStdin(): string;
    now(): Date;
    env: Readonly<Record<string, string | undefined>>;
    /** Where `--stack NAME` looks for `Pulumi.NAME.yaml`. Defaults to `process.cwd()`. */
    cwd?: string;
    /** Waits between polls (gate, drain). Defaults to a timer. */
    sleep?(ms: number): Promise<void>;
    /** Replacements for the real probes. */
    probes?: Partial<Probes>;
    /** serve runs until this aborts. Defaults to SIGINT or SIGTERM. */
    signal?: AbortSignal;
    /** A replacement for the Kubernetes calls of drain and uncordon; `timeoutMs` bounds each call. */
    nodeApi?(kc: KubeConfig, timeoutMs: () => number): NodeApi;
}

/** A reason the check cannot run at all: exit 2, one `cannot check:` message. */
export class CannotCheck extends Error {}

/** A bad flag: exit 2 with the usage. */
export class UsageError extends Error {}

export interface Session {
    io: HealthIo;
    out(text: string): void;
    err(text: string): void;
    probes: Probes;
    sleep(ms: number): Promise<void>;
    /** Credential values of the loaded kubeconfig, cut out of anything printed. */
    secrets: string[];
}

/** Longest wait for one API request; a step's deadline can shorten it. */
export const API_TIMEOUT_MS = 10_000;
/** Longest wait for an SSH handshake (check mode, serve). */
export const SSH_TIMEOUT_MS = 5_000;
/** Longest wait for the server's /ping (check mode, serve). */
export const PING_TIMEOUT_MS = 5_000;

export function newSession(io: HealthIo, probes: Probes): Session {
    const session: Session = {
        io,
        out: (t) => io.stdout(scrub(session, t)),
        err: (t) => io.stderr(scrub(session, t)),
        probes: { ...probes, ...io.probes },
        sleep: io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
        secrets: [],
    };
    return session;
}

/**
 * Cuts the kubeconfig's credentials out of `text`. Messages are built from error codes, never from
 * the kubeconfig; this is the second line of defence.
 */
export function scrub(session: Session, text: string): string {
    return session.secrets.reduce((t, s) => t.split(s).join("<redacted>"), text);
}

export function fileError(err: unknown): string {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EACCES") return "permission denied";
    if (code === "EISDIR") return "is a directory";
    if (typeof code === "string") return code;
    return (err as Error).message.split("\n")[0];
}

/**
 * The kubeconfig from `--kubeconfig` (a path, or - for stdin), else `$KUBECONFIG` (a list, merged
 * as kubectl does), else `~/.kube/config`; with `context` selected. Errors name the source, never
 * the content: a parser's message quotes the lines it choked on.
 */
export function loadKubeconfig(flag: string | undefined, context: string | undefined, session: Session): KubeConfig {
    const env = session.io.env;
    const kc = new KubeConfig();
    if (flag === "-") {
        let text: string;
        try {
            text = session.io.readStdin();
        } catch (err) {
            throw new CannotCheck(`cannot read the kubeconfig from stdin: ${fileError(err)}`);
        }
        parseKubeconfig(kc, text, "the kubeconfig on stdin");
    } else {
        const home = env.HOME || homedir();
        const files = flag !== undefined ? [flag] : env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter(Boolean) : [join(home, ".kube", "config")];
        const cwd = session.io.cwd ?? process.cwd();
        files.forEach((file, i) => {
            const path = resolve(cwd, file);
            let text: string;
            try {
                text = readFileSync(path, "utf8");
            } catch (err) {
                const hint = flag === undefined && !env.KUBECONFIG ? "; give --kubeconfig PATH or set KUBECONFIG" : "";
                throw new CannotCheck(`cannot read kubeconfig ${path}: ${fileError(err)}${hint}`);
            }
            const one = i === 0 ? kc : new KubeConfig();
            parseKubeconfig(one, text, `kubeconfig ${path}`);
            one.makePathsAbsolute(resolve(path, ".."));
            if (one !== kc) kc.mergeConfig(one, true);
        });
    }
    for (const user of kc.getUsers()) {
        for (const value of [user.token, user.password, user.certData, user.keyData]) {
            if (value && value.length >= 6) session.secrets.push(value);
        }
    }
    if (context !== undefined) {
        if (!kc.getContextObject(context)) throw new CannotCheck(`the kubeconfig has no context "${context}"`);
        kc.setCurrentContext(context);
    }
    if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
        throw new CannotCheck("the kubeconfig has no current context; give --context NAME");
    }
    if (!kc.getCurrentCluster()) throw new CannotCheck("the kubeconfig's context names no cluster it defines");
    return kc;
}

function parseKubeconfig(kc: KubeConfig, text: string, what: string): void {
    try {
        kc.loadFromString(text);
    } catch {
        throw new CannotCheck(`${what} is not a valid kubeconfig`);
    }
}
