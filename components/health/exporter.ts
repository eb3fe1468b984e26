/**
 * `oceanid-health serve`: check mode's probes every --interval seconds, the last round's results as
 * Prometheus metrics on /metrics (metrics.ts names them). A scrape never waits for a probe: it reads
 * the last finished round, so a slow SSH handshake cannot time a scrape out.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIPv6 } from "node:net";
import type { Registry } from "prom-client";
import { exitNodeOf, serverUrl, sshAddress, type StackSettings } from "../config/stack-config";
import { ArgsError, checkConnectionFlags, parseFlags, secondsFlag } from "./command-line";
import { KubeApiError, type KubeState, type ProbeResult } from "./probes";
import { noErrors, roundRegistry, type ErrorCounts, type ProbeName, type Round } from "./metrics";
import { API_TIMEOUT_MS, CannotCheck, loadKubeconfig, PING_TIMEOUT_MS, scrub, SSH_TIMEOUT_MS, UsageError, type Session } from "./session";
import { clusterCa, loadSettings } from "./stack";
import { exitNodeTailnetCheck, exitRoutesApproved, TAILNET_KEY_ENV, tailnetDeviceProblems, type TailnetCheck } from "./tailnet-device";
import { USAGE } from "./usage";
import { EGRESS_GATEWAY_DEPLOYMENT } from "./egress-gateway-name";

export const DEFAULT_LISTEN = "127.0.0.1:9464";
export const DEFAULT_SERVE_INTERVAL_SECONDS = 15;
export { EGRESS_GATEWAY_DEPLOYMENT } from "./egress-gateway-name";
const TAILNET_TIMEOUT_MS = 10_000;

const SERVE_OPTIONS = {
    stack: { type: "string" },
    "config-file": { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    listen: { type: "string", default: DEFAULT_LISTEN },
    interval: { type: "string", default: String(DEFAULT_SERVE_INTERVAL_SECONDS) },
    help: { type: "boolean", short: "h", default: false },
} as const;

/** `HOST:PORT` or `[v6]:PORT`; port 0 takes a free one. */
export function parseListen(text: string): { host: string; port: number } | undefined {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]\s]+):(\d+)$/.exec(text);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 0 && port <= 65535) || (text.startsWith("[") && !isIPv6(m[1]))) return undefined;
    return { host: m[1], port };
}

const hostPort = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

export async function serve(argv: readonly string[], session: Session): Promise<number> {
    let values;
    try {
        values = parseFlags(argv, SERVE_OPTIONS);
    } catch (err) {
        if (err instanceof ArgsError) throw new UsageError(`serve: ${err.message}`);
        throw err;
    }
    if (values.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const problems: string[] = [];
    if ((values.stack === undefined) === (values["config-file"] === undefined)) problems.push("give exactly one of --stack NAME and --config-file PATH");
    const listen = parseListen(values.listen);
    if (!listen) problems.push(`--listen must be HOST:PORT (an IPv6 address in brackets: [::1]:9464), got ${JSON.stringify(values.listen)}`);
    const interval = secondsFlag("interval", values.interval, problems, { integer: false });
    if (values.interval === "") problems.push(`--interval must be a positive number of seconds, got ""`);
    checkConnectionFlags(values, problems);
    if (problems.length > 0) throw new UsageError(`serve: ${problems.join("; ")}`);

    const settings = loadSettings(values.stack, values["config-file"], session.io.cwd ?? process.cwd());
    const context = values.context ?? (settings.kubernetes.mode === "cluster" ? settings.kubernetes.context : undefined);
    const kc = loadKubeconfig(values.kubeconfig, context, session);
    const tailnet = exitNodeCheck(settings);
    const tailnetKey = tailnet === undefined ? undefined : session.io.env[TAILNET_KEY_ENV];
    if (tailnetKey) session.secrets.push(tailnetKey);
    if (tailnet !== undefined && !tailnetKey) {
        session.err(
            `oceanid-health serve: ${TAILNET_KEY_ENV} is not set: oceanid_exit_node_online and oceanid_exit_node_routes_approved are left out (the exit node ${tailnet.hostname} is not asked about)\n`,
        );
    }

    const errors = noErrors();
    let registry: Registry = roundRegistry(undefined, errors);
    let finishedAt: number | undefined;
    const staleAfterMs = interval * 2000 + 30_000;

    const server = createServer((req, res) => void answer(req, res));
    async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const path = (req.url ?? "").split("?")[0];
        const reply = (status: number, type: string, body: string) => {
            res.writeHead(status, { "content-type": type });
            res.end(body);
        };
        if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "text/plain; charset=utf-8", "only GET\n");
        if (path === "/metrics") {
            const current = registry;
            try {
                return reply(200, current.contentType, await current.metrics());
            } catch (err) {
                const why = scrub(session, err instanceof Error ? err.message : String(err));
                session.err(`oceanid-health serve: /metrics failed: ${why}\n`);
                return reply(500, "text/plain; charset=utf-8", `metrics failed: ${why}\n`);
            }
        }
        if (path === "/healthz") {
            if (finishedAt === undefined) return reply(503, "text/plain; charset=utf-8", "starting: no probe round has finished yet\n");
            const ago = Math.round((Date.now() - finishedAt) / 1000);
            if (Date.now() - finishedAt > staleAfterMs) return reply(503, "text/plain; charset=utf-8", `stale: the last probe round finished ${ago}s ago\n`);
            return reply(200, "text/plain; charset=utf-8", `ok: the last probe round finished ${ago}s ago\n`);
        }
        reply(404, "text/plain; charset=utf-8", "not found: /metrics or /healthz\n");
    }
    const address = await new Promise<{ port: number }>((resolve, reject) => {
        server.once("error", (err: Error & { code?: string }) => reject(new CannotCheck(`cannot listen on ${values.listen} (${err.code ?? err.message})`)));
        server.listen(listen!.port, listen!.host, () => resolve(server.address() as { port: number }));
    });
    server.on("error", (err) => session.err(`oceanid-health serve: ${err.message}\n`));
    const stop = session.io.signal ?? signalsAbort();
    session.err(
        `oceanid-health serve: stack "${settings.stack}", ${settings.nodes.length} node${settings.nodes.length === 1 ? "" : "s"}: ` +
            `http://${hostPort(listen!.host, address.port)}/metrics, probing every ${interval}s\n`,
    );

    const said = new Map<string, string>();
    /** Says a probe's failure once, and its recovery once, not at every round. */
    const tell = (what: string, result: ProbeResult) => {
        const now = result.ok ? "ok" : result.reason;
        if ((said.get(what) ?? "ok") !== now) session.err(`oceanid-health serve: ${what}: ${now}\n`);
        said.set(what, now);
    };
    const probe = { settings, kc, tailnet, tailnetKey, errors, tell };
    const stopped = new Promise<undefined>((resolve) => (stop.aborted ? resolve(undefined) : stop.addEventListener("abort", () => resolve(undefined))));
    try {
        while (!stop.aborted) {
            const started = session.io.now().getTime();
            // Stopping does not wait for a round in flight: its probes end by their own timeouts.
            const round = await Promise.race([probeRound(session, probe), stopped]);
            if (round === undefined) break;
            registry = roundRegistry(round, errors);
            finishedAt = Date.now();
            await abortableWait(Math.max(0, interval * 1000 - (round.at.getTime() - started)), stop);
        }
    } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    session.err("oceanid-health serve: stopped\n");
    return 0;
}

/** What the tailnet's control server is asked of the exit node, as the exit node's gate asks it; undefined without exitNodeHost. */
function exitNodeCheck(settings: StackSettings): TailnetCheck | undefined {
    const host = settings.exitNodeHost;
    const node = exitNodeOf(settings);
    if (host === undefined || node === undefined) return undefined;
    return exitNodeTailnetCheck(node.name, host.controlApi, settings.egress.exitNode);
}

interface RoundContext {
    settings: StackSettings;
    kc: KubeConfig;
    tailnet: TailnetCheck | undefined;
    tailnetKey: string | undefined;
    errors: ErrorCounts;
    tell(what: string, result: ProbeResult): void;
}

/** One round of every probe, concurrently. Never throws: a probe that fails counts in the errors. */
async function probeRound(session: Session, ctx: RoundContext): Promise<Round> {
    const { settings, kc, errors } = ctx;
    const start = session.io.now().getTime();
    const failed = (name: ProbeName) => errors[name]++;
    /** A probe that threw instead of answering (a bug): counted and said. */
    const unexpected = (name: ProbeName, err: unknown): ProbeResult => {
        failed(name);
        return { ok: false, reason: `${name} probe failed: ${err instanceof Error ? err.message : String(err)}` };
    };

    const kubePromise: Promise<KubeState | ProbeResult> = session.probes.kubernetes(kc, API_TIMEOUT_MS).catch((err: unknown) => {
        if (err instanceof KubeApiError) {
            failed("kubernetes");
            return { ok: false, reason: `API server ${err.message}` };
        }
        return unexpected("kubernetes", err);
    });
    const sshPromise = Promise.all(
        settings.nodes.map(async (n) => {
            const t0 = session.io.now().getTime();
            const ssh = await session.probes.ssh(sshAddress(n), n.ssh.port, n.ssh.hostKey, SSH_TIMEOUT_MS).catch((err: unknown) => unexpected("ssh", err));
            const seconds = (session.io.now().getTime() - t0) / 1000;
            if (!ssh.ok) failed("ssh");
            ctx.tell(`${n.name}: ssh`, ssh);
            return { name: n.name, k3sVersion: n.k3sVersion, ssh, sshSeconds: seconds };
        }),
    );
    const pingPromise = session.probes
        .ping(serverUrl(settings), clusterCa(kc), PING_TIMEOUT_MS)
        .catch((err: unknown) => unexpected("ping", err))
        .then((ping) => {
            if (!ping.ok) failed("ping");
            ctx.tell("server ping", ping);
            return ping;
        });
    const gatewayPromise: Promise<number | undefined> = settings.egress.enabled
        ? session.probes.deploymentReadyReplicas(kc, settings.egress.gatewayNamespace, EGRESS_GATEWAY_DEPLOYMENT, API_TIMEOUT_MS).then(
              (n) => {
                  ctx.tell("egress gateway", { ok: true });
                  return n ?? 0;
              },
              (err: unknown) => {
                  const result = err instanceof KubeApiError ? { ok: false as const, reason: `API server ${err.message}` } : unexpected("egress_gateway", err);
                  if (err instanceof KubeApiError) failed("egress_gateway");
                  ctx.tell(`egress gateway ${settings.egress.gatewayNamespace}/${EGRESS_GATEWAY_DEPLOYMENT}`, result);
                  return undefined;
              },
          )
        : Promise.resolve(undefined);
    const tailnetPromise: Promise<Round["exitNode"]> =
        ctx.tailnet !== undefined && ctx.tailnetKey
            ? session.probes.tailnetDevices(ctx.tailnet, ctx.tailnetKey, TAILNET_TIMEOUT_MS).then(
                  (answer) => {
                      ctx.tell("tailnet", answer.ok ? { ok: true } : answer);
                      if (!answer.ok) {
                          failed("tailnet");
                          return undefined;
                      }
                      const check = ctx.tailnet!;
                      return {
                          online: tailnetDeviceProblems({ ...check, exitNode: false }, answer.devices).length === 0,
                          routesApproved: exitRoutesApproved(check, answer.devices),
                      };
                  },
                  (err: unknown) => {
                      ctx.tell("tailnet", unexpected("tailnet", err));
                      return undefined;
                  },
              )
            : Promise.resolve(undefined);

    const [kube, nodes, ping, gatewayReadyReplicas, exitNode] = await Promise.all([kubePromise, sshPromise, pingPromise, gatewayPromise, tailnetPromise]);
    const kubeOk = !("ok" in kube);
    ctx.tell("api", kubeOk ? { ok: true } : kube);
    const at = session.io.now();
    return {
        at,
        durationSeconds: (at.getTime() - start) / 1000,
        kube: kubeOk ? (kube as KubeState) : undefined,
        nodes,
        ping,
        ...(gatewayReadyReplicas !== undefined ? { gatewayReadyReplicas } : {}),
        ...(exitNode !== undefined ? { exitNode } : {}),
    };
}

/** Aborted on SIGINT or SIGTERM (the handlers go once it is). */
function signalsAbort(): AbortSignal {
    const controller = new AbortController();
    const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        controller.abort();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    return controller.signal;
}

function abortableWait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done);
    });
}
