/**
 * `oceanid-health gate`: polls one node after its change until it has been healthy for the settle
 * window, or the timeout. node-health.ts judges each poll; gate-settle.ts remembers between polls.
 */
import { ArgsError } from "./command-line";
import { parseGateArgs } from "./gate-command";
import { healthySince, leaseUnchangedSeconds, settled, trackLease, type LeaseTrack } from "./gate-settle";
import { KubeApiError } from "./kube-api";
import { DEFAULT_MAX_LEASE_AGE_SECONDS, nodeProblems, type NodeExpectation } from "./node-health";
import { observation } from "./probes";
import { API_TIMEOUT_MS, loadKubeconfig, UsageError, type Session } from "./session";
import { TAILNET_KEY_ENV } from "./tailnet-device";
import { USAGE } from "./usage";

const SSH_TIMEOUT_MS = 5_000;
const TAILNET_TIMEOUT_MS = 10_000;

export async function gate(argv: readonly string[], session: Session): Promise<number> {
    let args;
    try {
        args = parseGateArgs(argv);
    } catch (err) {
        if (err instanceof ArgsError) throw new UsageError(`gate: ${err.message}`);
        throw err;
    }
    if (args.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const { spec, intervalSeconds } = args;
    const settleSeconds = spec.settleSeconds ?? 0;
    const maxLeaseAgeSeconds = spec.maxLeaseAgeSeconds ?? DEFAULT_MAX_LEASE_AGE_SECONDS;
    const tailnetKey = spec.tailnet === undefined ? undefined : session.io.env[TAILNET_KEY_ENV];
    if (spec.tailnet !== undefined && !tailnetKey) {
        throw new UsageError(`gate: --tailnet-api needs the control server's API key in ${TAILNET_KEY_ENV}`);
    }
    if (tailnetKey) session.secrets.push(tailnetKey);
    const kc = loadKubeconfig(args.kubeconfig, spec.context, session);
    const expect: NodeExpectation = {
        name: spec.node,
        k3sVersion: spec.version,
        ssh: { host: spec.sshHost, port: spec.sshPort, hostKey: spec.hostKey },
        ...(spec.previousVersion !== undefined ? { previousVersion: spec.previousVersion } : {}),
    };
    const since = new Date(Number(spec.since) * 1000);
    const start = session.io.now().getTime();
    const deadline = start + spec.timeoutSeconds * 1000;
    // A probe near the deadline still gets a second, so the last poll can see a node that just came up.
    const budget = (cap: number) => Math.min(cap, Math.max(1000, deadline - session.io.now().getTime()));
    const secondsSince = (t: number, now: Date) => Math.round((now.getTime() - t) / 1000);
    let lease: LeaseTrack | undefined;
    let healthyFrom: number | undefined;
    let said = "";
    for (;;) {
        const [kube, ssh, tailnet] = await Promise.all([
            session.probes.kubernetes(kc, budget(API_TIMEOUT_MS)).catch((err: unknown) => {
                if (err instanceof KubeApiError) return err;
                throw err;
            }),
            session.probes.ssh(spec.sshHost, spec.sshPort, spec.hostKey, budget(SSH_TIMEOUT_MS)),
            spec.tailnet === undefined ? { ok: true as const } : session.probes.tailnet(spec.tailnet, tailnetKey!, budget(TAILNET_TIMEOUT_MS)),
        ]);
        const now = session.io.now();
        let problems: string[];
        if (kube instanceof KubeApiError) {
            problems = [`api: ${kube.message}`, ...(ssh.ok ? [] : [ssh.reason])];
        } else {
            const obs = observation(spec.node, kube, ssh);
            lease = trackLease(lease, obs.leaseRenewTime, since, now);
            problems = nodeProblems(expect, obs, { now, maxLeaseAgeSeconds, since, leaseUnchangedSeconds: leaseUnchangedSeconds(lease, now) });
        }
        if (!tailnet.ok) problems.push(tailnet.reason);
        healthyFrom = healthySince(healthyFrom, problems.length === 0, now);
        if (settled(healthyFrom, settleSeconds, now)) {
            const healthyFor = settleSeconds > 0 ? ` healthy for ${secondsSince(healthyFrom!, now)}s` : "";
            session.out(`GATE PASSED node=${spec.node} version=${spec.version}${healthyFor} after ${secondsSince(start, now)}s\n`);
            return 0;
        }
        if (now.getTime() >= deadline) {
            const reason =
                problems.length > 0
                    ? problems.join("; ")
                    : `healthy for only ${secondsSince(healthyFrom!, now)}s when --timeout ran out; --settle asks for ${settleSeconds}s`;
            // Confirm never comes now: the node's own revert puts it back at its deadline.
            const after =
                spec.rerun === undefined ? "" : `; ${spec.node} reverts by itself unless confirmed; to run the change again once it has: ${spec.rerun}`;
            session.err(`GATE FAILED node=${spec.node} reason=${reason}${after}\n`);
            return 1;
        }
        // Say what it waits for when that changes, so a long gate's log shows its progress. Counts
        // of seconds do not count as a change: a stale Lease would otherwise print every poll.
        const waiting =
            problems.length > 0
                ? `waiting for ${spec.node}: ${problems.join("; ")}`
                : `${spec.node} is healthy; waiting until it has been for ${settleSeconds}s`;
        const shape = waiting.replace(/\d+s\b/g, "Ns");
        if (shape !== said) session.err(`oceanid-health: gate: ${waiting}\n`);
        said = shape;
        await session.sleep(Math.min(intervalSeconds * 1000, deadline - now.getTime()));
    }
}
