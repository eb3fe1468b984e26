// Real Prometheus and Alertmanager for a test (built by `scripts/setup --tests`: prometheus,
// promtool, alertmanager in .tools/bin), on 127.0.0.1 only: Prometheus scrapes the given targets,
// evaluates the given rule files and sends its alerts to the Alertmanager, which routes every
// alert to one webhook (send_resolved: true) with the given group timings. startWebhookSink() is
// such a webhook: an HTTP server in this process that keeps what Alertmanager posts.
//
// Each server runs as `timeout -s KILL <lifetime> <server> ...`, detached, so it leads a process
// group of its own that stop() kills; a reaper (also under the lifetime) kills both groups and
// removes the data dir as soon as this test process is gone. So a crashed or killed test run leaves
// nothing behind for longer than a second, and nothing ever runs past its lifetime.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOOPBACK = "127.0.0.1";

export interface AlertmanagerTimings {
    groupWaitSeconds: number;
    groupIntervalSeconds: number;
    repeatIntervalSeconds: number;
    /** Alertmanager's global resolve_timeout (alerts without an end time resolve after it). */
    resolveTimeoutSeconds: number;
}

export interface MonitoringOptions {
    /** host:port of each target (one job), scraped over plain HTTP at /metrics. */
    scrapeTargets: string[];
    /** The scrape job's name (what `up{job=…}` says). @default "targets" */
    jobName?: string;
    scrapeIntervalSeconds: number;
    evaluationIntervalSeconds: number;
    /** Absolute paths of Prometheus rule files. */
    ruleFiles: string[];
    /** Where Alertmanager posts its notifications (startWebhookSink().url). */
    webhookUrl: string;
    alertmanager: AlertmanagerTimings;
    /** Both servers are killed after this many seconds even if stop() is never called. */
    lifetimeSeconds: number;
}

/** A Prometheus query API result (`data` of /api/v1/query). */
export type QueryData =
    | { resultType: "vector"; result: { metric: Record<string, string>; value: [number, string] }[] }
    | { resultType: "matrix"; result: { metric: Record<string, string>; values: [number, string][] }[] }
    | { resultType: "scalar" | "string"; result: [number, string] };

export interface Monitoring {
    /** http://127.0.0.1:<port> */
    readonly prometheusUrl: string;
    /** http://127.0.0.1:<port> */
    readonly alertmanagerUrl: string;
    /** The servers' directory (configs, data, logs/); removed by stop(). */
    readonly dir: string;
    /** An instant query at the current time; throws when Prometheus answers with an error. */
    query(promql: string): Promise<QueryData>;
    /** Both servers' logs so far (for a failing assertion's message). */
    logs(): string;
    /** Stops both servers (TERM, then KILL after 5 s) and removes their directory. Idempotent. */
    stop(): Promise<void>;
}

/** An Alertmanager webhook notification (its documented JSON, version "4"). */
export interface WebhookPayload {
    version: string;
    groupKey: string;
    truncatedAlerts?: number;
    status: "firing" | "resolved";
    receiver: string;
    groupLabels: Record<string, string>;
    commonLabels: Record<string, string>;
    commonAnnotations: Record<string, string>;
    externalURL: string;
    alerts: {
        status: "firing" | "resolved";
        labels: Record<string, string>;
        annotations: Record<string, string>;
        startsAt: string;
        endsAt: string;
        generatorURL: string;
        fingerprint: string;
    }[];
}

export interface ReceivedNotification {
    /** Date.now() when the request arrived. */
    at: number;
    /** The path it was posted to. */
    path: string;
    payload: WebhookPayload;
}

export interface WebhookSink {
    /** http://127.0.0.1:<port>/alerts */
    readonly url: string;
    /** Every notification so far, in arrival order. */
    received(): ReceivedNotification[];
    stop(): Promise<void>;
}

/**
 * A webhook receiver on 127.0.0.1 (or `host`: the node lab's root-namespace address) that keeps every
 * JSON payload posted to it, with the path it was posted to.
 */
export async function startWebhookSink(host = LOOPBACK): Promise<WebhookSink> {
    const got: ReceivedNotification[] = [];
    const server = createHttpServer((req, res) => {
        const at = Date.now();
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", () => {
            try {
                got.push({ at, path: req.url ?? "", payload: JSON.parse(body) as WebhookPayload });
                res.writeHead(200).end();
            } catch {
                res.writeHead(400).end("not JSON");
            }
        });
    });
    const port = await listen(server, 0, host);
    return {
        url: `http://${host}:${port}/alerts`,
        received: () => [...got],
        stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

function listen(server: Server | ReturnType<typeof createHttpServer>, port = 0, host = LOOPBACK): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
}

/** A port free on 127.0.0.1 now (the server binds it a moment later: startMonitoring retries a lost race). */
async function freePort(): Promise<number> {
    const s = createServer();
    const port = await listen(s);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
}

const yamlString = (s: string) => JSON.stringify(s);

function prometheusConfig(o: MonitoringOptions, alertmanagerPort: number): string {
    return [
        "global:",
        `  scrape_interval: ${o.scrapeIntervalSeconds}s`,
        `  scrape_timeout: ${o.scrapeIntervalSeconds}s`,
        `  evaluation_interval: ${o.evaluationIntervalSeconds}s`,
        `rule_files: [${o.ruleFiles.map(yamlString).join(", ")}]`,
        "alerting:",
        "  alertmanagers:",
        "    - api_version: v2",
        "      static_configs:",
        `        - targets: [${yamlString(`${LOOPBACK}:${alertmanagerPort}`)}]`,
        "scrape_configs:",
        `  - job_name: ${yamlString(o.jobName ?? "targets")}`,
        `    static_configs:`,
        `      - targets: [${o.scrapeTargets.map(yamlString).join(", ")}]`,
        "",
    ].join("\n");
}

function alertmanagerConfig(o: MonitoringOptions): string {
    const t = o.alertmanager;
    return [
        "global:",
        `  resolve_timeout: ${t.resolveTimeoutSeconds}s`,
        "route:",
        "  receiver: webhook",
        "  group_by: [alertname]",
        `  group_wait: ${t.groupWaitSeconds}s`,
        `  group_interval: ${t.groupIntervalSeconds}s`,
        `  repeat_interval: ${t.repeatIntervalSeconds}s`,
        "receivers:",
        "  - name: webhook",
        "    webhook_configs:",
        `      - url: ${yamlString(o.webhookUrl)}`,
        "        send_resolved: true",
        "",
    ].join("\n");
}

interface Proc {
    child: ChildProcess;
    log: string;
    exited: Promise<number | null>;
}

function startServer(dir: string, name: string, lifetime: number, argv: string[]): Proc {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, "a");
    // detached: timeout leads a new process group (and session) with the server in it.
    const child = spawn("timeout", ["-s", "KILL", String(lifetime), ...argv], { detached: true, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => {
        child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)));
        child.once("error", () => resolve(-1));
    });
    child.unref();
    return { child, log, exited };
}

function killGroup(p: Proc, signal: NodeJS.Signals): void {
    if (p.child.pid === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
    try {
        process.kill(-p.child.pid, signal);
    } catch {
        // already gone
    }
}

async function stopServer(p: Proc): Promise<void> {
    killGroup(p, "SIGTERM");
    const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 5000).unref());
    if ((await Promise.race([p.exited, timer])) === "late") {
        killGroup(p, "SIGKILL");
        await p.exited;
    }
}

const readLog = (p: Proc) => {
    try {
        return readFileSync(p.log, "utf8");
    } catch {
        return "";
    }
};

/** Waits until GET url answers 200, the server exits (its log in the error) or the time is up. */
async function waitReady(url: string, p: Proc, what: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let gone = false;
    void p.exited.then(() => (gone = true));
    while (Date.now() < end) {
        if (gone) throw new Error(`${what} exited before it was ready:\n${readLog(p).slice(-3000)}`);
        try {
            const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
            if (r.ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} was not ready at ${url} after ${timeoutMs / 1000}s:\n${readLog(p).slice(-3000)}`);
}

const addressInUse = (p: Proc) => /address already in use/i.test(readLog(p));

/**
 * Starts Alertmanager, then Prometheus (scraping `scrapeTargets`, evaluating `ruleFiles`, alerting
 * to that Alertmanager), on free 127.0.0.1 ports under a fresh temporary directory; resolves when
 * both answer /-/ready. Call stop() when done (afterAll); they end by themselves anyway.
 */
export async function startMonitoring(o: MonitoringOptions): Promise<Monitoring> {
    const lifetime = Math.max(1, Math.ceil(o.lifetimeSeconds));
    const dir = mkdtempSync(join(tmpdir(), "oceanid-monitoring-"));
    writeFileSync(join(dir, "alertmanager.yml"), alertmanagerConfig(o));
    const procs: Proc[] = [];
    let reaper: Proc | undefined;
    const stopAll = async () => {
        await Promise.all(procs.map(stopServer));
        if (reaper) await stopServer(reaper);
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        // Ports are picked free and bound a moment later: a lost race is retried with new ones.
        let am: Proc | undefined;
        let amPort = 0;
        for (let attempt = 0; !am; attempt++) {
            amPort = await freePort();
            const p = startServer(dir, `alertmanager-${attempt}`, lifetime, [
                "alertmanager",
                `--config.file=${join(dir, "alertmanager.yml")}`,
                `--storage.path=${join(dir, "alertmanager-data")}`,
                `--web.listen-address=${LOOPBACK}:${amPort}`,
                // No cluster: it would listen on 0.0.0.0:9094 for gossip.
                "--cluster.listen-address=",
                `--web.external-url=http://${LOOPBACK}:${amPort}`,
                "--log.level=info",
            ]);
            procs.push(p);
            try {
                await waitReady(`http://${LOOPBACK}:${amPort}/-/ready`, p, "alertmanager", 30_000);
                am = p;
            } catch (e) {
                if (attempt >= 2 || !addressInUse(p)) throw e;
            }
        }
        let prom: Proc | undefined;
        let promPort = 0;
        for (let attempt = 0; !prom; attempt++) {
            promPort = await freePort();
            writeFileSync(join(dir, "prometheus.yml"), prometheusConfig(o, amPort));
            const p = startServer(dir, `prometheus-${attempt}`, lifetime, [
                "prometheus",
                `--config.file=${join(dir, "prometheus.yml")}`,
                `--storage.tsdb.path=${join(dir, "prometheus-data")}`,
                `--web.listen-address=${LOOPBACK}:${promPort}`,
                `--web.external-url=http://${LOOPBACK}:${promPort}`,
                // Targets are scraped a second after start, not after the default 5 s throttle.
                "--scrape.discovery-reload-interval=1s",
                // A resolved alert goes out at once; a firing one again after this long.
                `--rules.alert.resend-delay=${Math.max(1, o.evaluationIntervalSeconds)}s`,
                "--log.level=info",
            ]);
            procs.push(p);
            try {
                await waitReady(`http://${LOOPBACK}:${promPort}/-/ready`, p, "prometheus", 60_000);
                prom = p;
            } catch (e) {
                if (attempt >= 2 || !addressInUse(p)) throw e;
            }
        }
        // The safety net: once this process is gone, both groups die and the directory goes.
        const groups = procs.map((p) => `-${p.child.pid}`).join(" ");
        reaper = startServer(dir, "reaper", lifetime, [
            "bash",
            "-c",
            `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL -- ${groups} 2>/dev/null; rm -rf -- "$1"`,
            "reaper",
            dir,
        ]);
        const prometheusUrl = `http://${LOOPBACK}:${promPort}`;
        const alertmanagerUrl = `http://${LOOPBACK}:${amPort}`;
        let stopped: Promise<void> | undefined;
        return {
            prometheusUrl,
            alertmanagerUrl,
            dir,
            async query(promql) {
                const r = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(10_000) });
                const body = (await r.json()) as { status: string; data?: QueryData; error?: string };
                if (body.status !== "success" || !body.data) throw new Error(`query ${promql} failed (${r.status}): ${body.error ?? JSON.stringify(body)}`);
                return body.data;
            },
            logs: () => procs.map((p) => `--- ${p.log}\n${readLog(p)}`).join("\n"),
            stop: () => (stopped ??= stopAll()),
        };
    } catch (e) {
        await stopAll();
        throw e;
    }
}
