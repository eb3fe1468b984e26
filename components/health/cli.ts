import { readFileSync } from "node:fs";
import { serverUrl, sshAddress, type StackSettings } from "../config/stack-config";
import { ArgsError, parseFlags } from "./command-line";
import { rfc3339Seconds } from "./cordon";
import { drain } from "./drain";
import { serve } from "./exporter";
import { gate } from "./gate";
import { DEFAULT_MAX_LEASE_AGE_SECONDS, leaseAgeSeconds, nodeProblems, type NodeExpectation, type NodeObservation } from "./node-health";
import { nodeChangeProblems } from "./node-change-status";
import { deploymentReadyReplicas, KubeApiError, observation, observeKubernetes, pingServer, probeSsh, type KubeState } from "./probes";
import { probeTailnet, tailnetDevices } from "./tailnet-device";
import { toJson, toText, type HealthReport, type NodeReport } from "./report";
import {
    API_TIMEOUT_MS,
    CannotCheck,
    loadKubeconfig,
    newSession,
    PING_TIMEOUT_MS,
    scrub,
    SSH_TIMEOUT_MS,
    UsageError,
    type HealthIo,
    type Probes,
    type Session,
} from "./session";
import { clusterCa, loadSettings } from "./stack";
import { uncordon } from "./uncordon";
import { USAGE } from "./usage";

export { DEFAULT_MAX_LEASE_AGE_SECONDS } from "./node-health";
export type { HealthIo, Probes } from "./session";
export { USAGE } from "./usage";

export const REAL_PROBES: Probes = {
    kubernetes: observeKubernetes,
    ssh: probeSsh,
    ping: pingServer,
    tailnet: probeTailnet,
    deploymentReadyReplicas,
    tailnetDevices,
};

/** The steps of a node change, each its own subcommand, and the exporter (serve); anything else is check mode. */
const STEPS: Record<string, (argv: readonly string[], session: Session) => Promise<number>> = { gate, drain, uncordon, serve };

/** Runs oceanid-health; returns the exit code. Never throws for bad input: it says what is wrong. */
export async function main(argv: readonly string[], io: HealthIo): Promise<number> {
    const session = newSession(io, REAL_PROBES);
    try {
        const step = Object.hasOwn(STEPS, argv[0] ?? "") ? STEPS[argv[0]] : undefined;
        return step ? await step(argv.slice(1), session) : await check(argv, session);
    } catch (err) {
        if (err instanceof UsageError) {
            session.err(`oceanid-health: ${err.message}\n${USAGE}\n`);
            return 2;
        }
        if (err instanceof CannotCheck) {
            session.err(`oceanid-health: cannot check: ${err.message}\n`);
            return 2;
        }
        throw new Error(scrub(session, err instanceof Error ? err.message : String(err)));
    }
}

const FORMATS = ["text", "json"] as const;

const CHECK_OPTIONS = {
    stack: { type: "string" },
    "config-file": { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    node: { type: "string" },
    format: { type: "string", default: "text" },
    "max-lease-age": { type: "string", default: String(DEFAULT_MAX_LEASE_AGE_SECONDS) },
    help: { type: "boolean", short: "h", default: false },
} as const;

async function check(argv: readonly string[], session: Session): Promise<number> {
    let values;
    try {
        values = parseFlags(argv, CHECK_OPTIONS);
    } catch (err) {
        if (err instanceof ArgsError) throw new UsageError(err.message);
        throw err;
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
            nodeChange: obs.nodeChange
                ? {
                      reason: obs.nodeChange.reason,
                      message: obs.nodeChange.message,
                      since: obs.nodeChange.lastTransitionTime ? rfc3339Seconds(obs.nodeChange.lastTransitionTime) : null,
                  }
                : null,
            cordoned: cordonReport(obs),
            problems: [...nodeProblems(expectation(n), obs, { now, maxLeaseAgeSeconds: maxLeaseAge }), ...nodeChangeProblems(obs, now)],
        };
    });
    const server = settings.nodes.find((n) => n.role === "server")!;
    const problems = [...nodes.flatMap((n) => n.problems.map((p) => `${n.name}: ${p}`)), ...(ping.ok ? [] : [`${server.name}: ${ping.reason}`])];
    const report: HealthReport = { healthy: problems.length === 0, nodes, server: { url, ping }, problems };
    session.out(`${format === "json" ? toJson(report) : toText(report)}\n`);
    return report.healthy ? 0 : 1;
}

function cordonReport(obs: NodeObservation): NodeReport["cordoned"] {
    if (obs.cordon === undefined) return null;
    return obs.cordon.byOceanid ? { byOceanid: true, since: obs.cordon.since } : { byOceanid: false, since: null };
}

function expectation(n: StackSettings["nodes"][number]): NodeExpectation {
    return { name: n.name, k3sVersion: n.k3sVersion, ssh: { host: sshAddress(n), port: n.ssh.port, hostKey: n.ssh.hostKey } };
}

/** Runs oceanid-health as this process: its arguments, standard streams and environment; the exit code set. */
export function runProcess(): void {
    main(process.argv.slice(2), {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        readStdin: () => readFileSync(0, "utf8"),
        now: () => new Date(),
        env: process.env,
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            // main never throws for bad input; this is a bug, said in one line without a stack trace.
            process.stderr.write(`oceanid-health: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 2;
        },
    );
}
