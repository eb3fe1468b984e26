import { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, delimiter, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseStackConfig, serverUrl, sshAddress, type StackSettings } from "../config/stack-config";
import { StackConfigError } from "../config/problems";
import { rawFromStackConfig, readStackConfigFile } from "../config/stack-file";
import { firstSentence, GateArgsError, parseGateArgs } from "./gate-command";
import { leaseAgeSeconds, nodeProblems, type NodeExpectation } from "./node-health";
import { KubeApiError, observation, observeKubernetes, pingServer, probeSsh, type KubeState, type ProbeResult } from "./probes";
import { toJson, toText, type HealthReport, type NodeReport } from "./report";

export const USAGE = `usage: oceanid-health [--stack NAME | --config-file PATH] [--kubeconfig PATH|-] [--context NAME]
                      [--node NAME] [--format text|json] [--max-lease-age SECONDS]
       oceanid-health gate --node NAME --version VERSION --ssh HOST:PORT --host-key 'TYPE BASE64'
                      --since EPOCH --timeout SECONDS [--kubeconfig PATH|-] [--context NAME]
                      [--interval SECONDS]

Check: is every node of the stack healthy?
  --stack NAME          read Pulumi.NAME.yaml in the current directory
  --config-file PATH    read this stack file instead
  --kubeconfig PATH|-   kubeconfig file, or - for stdin (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME        kubeconfig context (default: the stack's kubernetes.context, then current-context)
  --node NAME           check only this node
  --format text|json    output format (default text)
  --max-lease-age SECS  a node Lease renewed longer ago is a problem (default 40; kubelets renew every 10)
  A node is healthy when its Ready condition is True, its Lease in kube-node-lease is fresh, its
  kubelet reports the stack's k3sVersion, and SSH completes a handshake with the pinned host key
  (no login is attempted). The server's /ping at the stack's server URL must answer "pong".
  Nodes are probed concurrently.
  text: a table NODE READY LEASE KUBELET SSH, the server ping line, then "healthy: N nodes" or
        one "<node>: <reason>" line per problem
  json: { healthy, nodes: [{ name, ready, leaseAgeSeconds, kubeletVersion, expectedVersion,
        ssh: { ok, reason? }, problems }], server: { url, ping: { ok, reason? } }, problems }

Gate: wait for one node after a change (each node change in the Pulumi program runs this).
  Polls every --interval seconds (default 2) until the node is Ready, has renewed its Lease after
  --since (epoch seconds by the node's clock, as "date +%s.%N" prints), reports kubelet --version, and
  completes an SSH handshake with --host-key. Then prints "GATE PASSED node=N version=V after Ss"
  and exits 0; at --timeout it prints "GATE FAILED node=N reason=<problems>" on stderr and exits 1.
  API errors while polling are problems ("api: ..."), retried until the timeout. Pass the
  kubeconfig on stdin (--kubeconfig -): it is a secret, and no part of it is ever printed.

exit: 0 healthy / gate passed; 1 unhealthy / gate failed; 2 cannot check: bad arguments, stack file
      missing or invalid, kubeconfig unreadable, API server unreachable or credentials refused

On a schedule, alert on any exit but 0 (1: a node is unhealthy; 2: the check itself cannot run):
  cron (every 5 minutes; give cron a PATH with node on it):
    */5 * * * * cd /srv/oceanid-infra && npx oceanid-health --stack prod --format json > /var/tmp/oceanid-health.json || your-alert-command "oceanid-health exit $?"
  systemd: oceanid-health.service with Type=oneshot, WorkingDirectory=/srv/oceanid-infra,
    ExecStart=/usr/bin/npx oceanid-health --stack prod --format json and OnFailure=<your alert unit>,
    started by oceanid-health.timer with OnCalendar=*:0/5; read the last result with
    journalctl -u oceanid-health`;

/** A node Lease renewed longer ago than this is stale: the node controller's default grace period. */
export const DEFAULT_MAX_LEASE_AGE_SECONDS = 40;
const API_TIMEOUT_MS = 10_000;
const SSH_TIMEOUT_MS = 5_000;
const PING_TIMEOUT_MS = 5_000;

/** The observing side; tests and labs replace any of it. */
export interface Probes {
    /** Throws {@link KubeApiError} when the API server cannot be asked. */
    kubernetes(kc: KubeConfig, timeoutMs: number): Promise<KubeState>;
    ssh(host: string, port: number, hostKey: string, timeoutMs: number): Promise<ProbeResult>;
    ping(url: string, caPem: string | undefined, timeoutMs: number): Promise<ProbeResult>;
}

export const REAL_PROBES: Probes = { kubernetes: observeKubernetes, ssh: probeSsh, ping: pingServer };

export interface HealthIo {
    stdout(text: string): void;
    stderr(text: string): void;
    readStdin(): string;
    now(): Date;
    env: Readonly<Record<string, string | undefined>>;
    /** Where `--stack NAME` looks for `Pulumi.NAME.yaml`. Defaults to `process.cwd()`. */
    cwd?: string;
    /** Waits between gate polls. Defaults to a timer. */
    sleep?(ms: number): Promise<void>;
    /** Replacements for the real probes. */
    probes?: Partial<Probes>;
}

/** A reason the check cannot run at all: exit 2, one `cannot check:` message. */
class CannotCheck extends Error {}

/** A bad flag: exit 2 with the usage. */
class UsageError extends Error {}

/** One run: its I/O (output scrubbed of kubeconfig credentials) and its probes. */
interface Session {
    io: HealthIo;
    out(text: string): void;
    err(text: string): void;
    probes: Probes;
    /** Credential values of the loaded kubeconfig, cut out of anything printed. */
    secrets: string[];
}

/** Runs oceanid-health; returns the exit code. Never throws for bad input: it says what is wrong. */
export async function main(argv: readonly string[], io: HealthIo): Promise<number> {
    const secrets: string[] = [];
    // Messages are built from error codes, never from the kubeconfig; this is the second line of defence.
    const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join("<redacted>"), text);
    const session: Session = {
        io,
        out: (t) => io.stdout(scrub(t)),
        err: (t) => io.stderr(scrub(t)),
        probes: { ...REAL_PROBES, ...io.probes },
        secrets,
    };
    try {
        return argv[0] === "gate" ? await gate(argv.slice(1), session) : await check(argv, session);
    } catch (err) {
        if (err instanceof UsageError) {
            session.err(`oceanid-health: ${err.message}\n${USAGE}\n`);
            return 2;
        }
        if (err instanceof CannotCheck) {
            session.err(`oceanid-health: cannot check: ${err.message}\n`);
            return 2;
        }
        throw new Error(scrub(err instanceof Error ? err.message : String(err)));
    }
}

const FORMATS = ["text", "json"] as const;

async function check(argv: readonly string[], session: Session): Promise<number> {
    let values;
    try {
        ({ values } = parseArgs({
            args: [...argv],
            options: {
                stack: { type: "string" },
                "config-file": { type: "string" },
                kubeconfig: { type: "string" },
                context: { type: "string" },
                node: { type: "string" },
                format: { type: "string", default: "text" },
                "max-lease-age": { type: "string", default: String(DEFAULT_MAX_LEASE_AGE_SECONDS) },
                help: { type: "boolean", short: "h", default: false },
            },
            allowPositionals: false,
            strict: true,
        }));
    } catch (err) {
        throw new UsageError(firstSentence((err as Error).message));
    }
    if (values.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const format = values.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got "${values.format}"`);
    const maxLeaseAge = Number(values["max-lease-age"]);
    if (!/^\d+$/.test(values["max-lease-age"]) || maxLeaseAge < 1) {
        throw new UsageError(`--max-lease-age must be a positive whole number of seconds, got "${values["max-lease-age"]}"`);
    }
    if ((values.stack === undefined) === (values["config-file"] === undefined)) {
        throw new UsageError("give exactly one of --stack NAME and --config-file PATH");
    }

    const settings = loadSettings(values.stack, values["config-file"], session.io.cwd ?? process.cwd());
    const selected = values.node === undefined ? settings.nodes : settings.nodes.filter((n) => n.name === values.node);
    if (selected.length === 0) {
        throw new UsageError(`--node: stack "${settings.stack}" has no node "${values.node}"; its nodes are ${settings.nodes.map((n) => n.name).join(", ")}`);
    }
    const context = values.context ?? (settings.kubernetes.mode === "cluster" ? settings.kubernetes.context : undefined);
    const kc = loadKubeconfig(values.kubeconfig, context, session);

    // The API first: without it there is nothing to judge, and SSH timeouts would only delay exit 2.
    let kube: KubeState;
    try {
        kube = await session.probes.kubernetes(kc, API_TIMEOUT_MS);
    } catch (err) {
        if (err instanceof KubeApiError) throw new CannotCheck(`API server ${err.message}`);
        throw err;
    }
    const url = serverUrl(settings);
    const [sshResults, ping] = await Promise.all([
        Promise.all(selected.map((n) => session.probes.ssh(sshAddress(n), n.ssh.port, n.ssh.hostKey, SSH_TIMEOUT_MS))),
        session.probes.ping(url, clusterCa(kc), PING_TIMEOUT_MS),
    ]);

    const now = session.io.now();
    const nodes: NodeReport[] = selected.map((n, i) => {
        const obs = observation(n.name, kube, sshResults[i]);
        return {
            name: n.name,
            ready: obs.registered ? (obs.ready?.status ?? null) : null,
            leaseAgeSeconds: obs.leaseRenewTime ? leaseAgeSeconds(obs.leaseRenewTime, now) : null,
            kubeletVersion: obs.kubeletVersion ?? null,
            expectedVersion: n.k3sVersion,
            ssh: obs.ssh,
            problems: nodeProblems(expectation(n), obs, { now, maxLeaseAgeSeconds: maxLeaseAge }),
        };
    });
    const server = settings.nodes.find((n) => n.role === "server")!;
    const problems = [...nodes.flatMap((n) => n.problems.map((p) => `${n.name}: ${p}`)), ...(ping.ok ? [] : [`${server.name}: ${ping.reason}`])];
    const report: HealthReport = { healthy: problems.length === 0, nodes, server: { url, ping }, problems };
    session.out(`${format === "json" ? toJson(report) : toText(report)}\n`);
    return report.healthy ? 0 : 1;
}

function expectation(n: StackSettings["nodes"][number]): NodeExpectation {
    return { name: n.name, k3sVersion: n.k3sVersion, ssh: { host: sshAddress(n), port: n.ssh.port, hostKey: n.ssh.hostKey } };
}

/** The stack's validated settings, from `Pulumi.<stack>.yaml` in `cwd` or a given file. */
function loadSettings(stack: string | undefined, configFile: string | undefined, cwd: string): StackSettings {
    const path = configFile !== undefined ? resolve(cwd, configFile) : join(cwd, `Pulumi.${stack}.yaml`);
    const name = stack ?? /^Pulumi\.(.+)\.ya?ml$/.exec(basename(path))?.[1] ?? basename(path);
    let config;
    try {
        config = readStackConfigFile(path);
    } catch (err) {
        const hint = stack !== undefined ? " (run in the project directory, or give --config-file PATH)" : "";
        throw new CannotCheck(`cannot read stack file ${path}: ${fileError(err)}${hint}`);
    }
    try {
        return parseStackConfig(rawFromStackConfig(name, config, configFile !== undefined ? path : undefined));
    } catch (err) {
        if (err instanceof StackConfigError) throw new CannotCheck(err.message);
        throw err;
    }
}

function fileError(err: unknown): string {
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
function loadKubeconfig(flag: string | undefined, context: string | undefined, session: Session): KubeConfig {
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

/** The current cluster's CA as PEM, for the server ping; undefined means the system's CAs. */
function clusterCa(kc: KubeConfig): string | undefined {
    const cluster = kc.getCurrentCluster();
    if (cluster?.caData) return Buffer.from(cluster.caData, "base64").toString("utf8");
    if (cluster?.caFile) {
        try {
            return readFileSync(cluster.caFile, "utf8");
        } catch {
            return undefined;
        }
    }
    return undefined;
}

async function gate(argv: readonly string[], session: Session): Promise<number> {
    let args;
    try {
        args = parseGateArgs(argv);
    } catch (err) {
        if (err instanceof GateArgsError) throw new UsageError(`gate: ${err.message}`);
        throw err;
    }
    if (args.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const { spec, intervalSeconds } = args;
    const kc = loadKubeconfig(args.kubeconfig, spec.context, session);
    const expect: NodeExpectation = { name: spec.node, k3sVersion: spec.version, ssh: { host: spec.sshHost, port: spec.sshPort, hostKey: spec.hostKey } };
    const since = new Date(Number(spec.since) * 1000);
    const sleep = session.io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const start = session.io.now().getTime();
    const deadline = start + spec.timeoutSeconds * 1000;
    // A probe near the deadline still gets a second, so the last poll can see a node that just came up.
    const budget = (cap: number) => Math.min(cap, Math.max(1000, deadline - session.io.now().getTime()));
    let said = "";
    for (;;) {
        const [kube, ssh] = await Promise.all([
            session.probes.kubernetes(kc, budget(API_TIMEOUT_MS)).catch((err: unknown) => {
                if (err instanceof KubeApiError) return err;
                throw err;
            }),
            session.probes.ssh(spec.sshHost, spec.sshPort, spec.hostKey, budget(SSH_TIMEOUT_MS)),
        ]);
        const now = session.io.now();
        const problems =
            kube instanceof KubeApiError
                ? [`api: ${kube.message}`, ...(ssh.ok ? [] : [ssh.reason])]
                : nodeProblems(expect, observation(spec.node, kube, ssh), { now, maxLeaseAgeSeconds: DEFAULT_MAX_LEASE_AGE_SECONDS, since });
        if (problems.length === 0) {
            session.out(`GATE PASSED node=${spec.node} version=${spec.version} after ${Math.round((now.getTime() - start) / 1000)}s\n`);
            return 0;
        }
        if (now.getTime() >= deadline) {
            session.err(`GATE FAILED node=${spec.node} reason=${problems.join("; ")}\n`);
            return 1;
        }
        // Say what it waits for when that changes, so a long gate's log shows its progress.
        const waiting = problems.join("; ");
        if (waiting !== said) session.err(`oceanid-health: gate: waiting for ${spec.node}: ${waiting}\n`);
        said = waiting;
        await sleep(Math.min(intervalSeconds * 1000, deadline - now.getTime()));
    }
}
