/**
 * `oceanid-health drain`: the step before a node is changed. For an agent, checks its target
 * against the server's running version; then cordons the node and evicts its pods through the
 * Eviction API (so PodDisruptionBudgets hold), and waits until they are gone.
 */
import type { V1Node } from "@kubernetes/client-node";
import { agentPreflight } from "./agent-preflight";
import { ArgsError } from "./command-line";
import { cordonPatch, cordonState, uncordonPatch } from "./cordon";
import { parseDrainArgs, type DrainSpec } from "./drain-command";
import { planDrain, podKey, type DrainPlan } from "./drain-plan";
import { KubeApiError } from "./kube-api";
import { kubeNodeApi, type NodeApi } from "./node-api";
import { API_TIMEOUT_MS, loadKubeconfig, UsageError, type Session } from "./session";
import { USAGE } from "./usage";

export async function drain(argv: readonly string[], session: Session): Promise<number> {
    let args;
    try {
        args = parseDrainArgs(argv);
    } catch (err) {
        if (err instanceof ArgsError) throw new UsageError(`drain: ${err.message}`);
        throw err;
    }
    if (args.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const kc = loadKubeconfig(args.kubeconfig, args.spec.context, session);
    const deadline = session.io.now().getTime() + args.spec.timeoutSeconds * 1000;
    // A request near the deadline still gets a second, so the last round can see the last pod go.
    const budget = () => Math.min(API_TIMEOUT_MS, Math.max(1000, deadline - session.io.now().getTime()));
    const api = (session.io.nodeApi ?? kubeNodeApi)(kc, budget);
    return drainNode(args.spec, api, session, args.intervalSeconds, deadline);
}

/** One pod the drain waits for, and why it has not left yet. */
interface Leaving {
    key: string;
    namespace: string;
    name: string;
    uid?: string;
    evicted: boolean;
    why: string;
}

/** Exit code: 0 drained (or nothing to do), 1 the step failed (one last `... FAILED` line on stderr). */
export async function drainNode(spec: DrainSpec, api: NodeApi, session: Session, intervalSeconds: number, deadline: number): Promise<number> {
    const progress = (line: string) => session.err(`oceanid-health: drain: ${line}\n`);
    const failed = (step: string, reason: string) => {
        session.err(`${step} FAILED node=${spec.node} reason=${reason}\n`);
        return 1;
    };

    if (spec.agentOf !== undefined) {
        let server: V1Node | undefined;
        try {
            server = await api.readNode(spec.agentOf.server);
        } catch (err) {
            if (err instanceof KubeApiError) return failed("PREFLIGHT", `api: ${err.message}`);
            throw err;
        }
        const check = agentPreflight(spec.agentOf.server, server && { kubeletVersion: server.status?.nodeInfo?.kubeletVersion }, spec.agentOf.version);
        if (!check.ok) return failed("PREFLIGHT", check.reason);
        session.out(`${check.line}\n`);
    }
    if (!spec.drain) {
        session.out(`drain: skipped for ${spec.node} (nodeChanges.drain is false)\n`);
        return 0;
    }

    // Until the cordon, nothing has changed: an API error just fails the step.
    let cordonedByUs: boolean;
    try {
        const node = await api.readNode(spec.node);
        if (node === undefined) {
            session.out(`drain: ${spec.node} is not registered: nothing to drain\n`);
            return 0;
        }
        const refusal = unmanagedRefusal(planDrain(await listPods(api, spec.node)));
        if (refusal !== undefined) return failed("DRAIN", refusal);
        cordonedByUs = await cordon(spec, node, api, session, progress);
    } catch (err) {
        if (err instanceof KubeApiError) return failed("DRAIN", `api: ${err.message}`);
        throw err;
    }
    /** Fails the step, uncordoning the node first if this drain cordoned it. */
    const failedCordoned = async (reason: string) => {
        if (!cordonedByUs) return failed("DRAIN", reason);
        try {
            await api.patchNode(spec.node, uncordonPatch());
            progress(`uncordoned ${spec.node} again`);
            return failed("DRAIN", reason);
        } catch (err) {
            if (!(err instanceof KubeApiError)) throw err;
            return failed("DRAIN", `${reason}; ${spec.node} stays cordoned: uncordoning it failed (api: ${err.message})`);
        }
    };

    // Listed again now that nothing new lands on the node (as kubectl drain does): this is the set to move.
    let plan: DrainPlan;
    try {
        plan = planDrain(await listPods(api, spec.node));
    } catch (err) {
        if (err instanceof KubeApiError) return failedCordoned(`api: ${err.message}`);
        throw err;
    }
    const refusal = unmanagedRefusal(plan);
    if (refusal !== undefined) return failedCordoned(refusal);

    const leaving = new Map<string, Leaving>(
        plan.evict.map((pod) => {
            const key = podKey(pod);
            const uid = pod.metadata?.uid;
            return [
                key,
                {
                    key,
                    namespace: pod.metadata?.namespace ?? "",
                    name: pod.metadata?.name ?? "",
                    ...(uid ? { uid } : {}),
                    evicted: false,
                    why: "not evicted yet",
                },
            ];
        }),
    );
    const evicting = [...leaving.keys()];
    if (evicting.length > 0) progress(`evicting ${countOf(evicting.length, "pod")} from ${spec.node}: ${evicting.join(", ")}`);
    let said = "";
    for (;;) {
        for (const pod of leaving.values()) {
            if (pod.evicted) continue;
            const result = await api.evict(pod).catch((err: unknown) => {
                if (err instanceof KubeApiError) return { outcome: "refused" as const, why: `api: ${err.message}` };
                throw err;
            });
            if (result.outcome === "gone") leaving.delete(pod.key);
            else if (result.outcome === "evicted") Object.assign(pod, { evicted: true, why: "still terminating" });
            else pod.why = result.why;
        }
        // Gone: not on the node any more, or its name now belongs to another pod.
        try {
            const present = new Map((await api.listPods(spec.node)).map((p) => [podKey(p), p.metadata?.uid]));
            for (const pod of leaving.values()) {
                if (!present.has(pod.key) || present.get(pod.key) !== pod.uid) leaving.delete(pod.key);
                else if (pod.evicted) pod.why = "still terminating";
            }
        } catch (err) {
            if (!(err instanceof KubeApiError)) throw err;
            for (const pod of leaving.values()) if (pod.evicted) pod.why = `api: ${err.message}`;
        }
        if (leaving.size === 0) {
            const evicted = evicting.length === 0 ? "evicted 0 pods" : `evicted ${countOf(evicting.length, "pod")} (${evicting.join(", ")})`;
            session.out(`drained: ${spec.node}: ${evicted}; left ${plan.left.length} (DaemonSet or mirror pods)\n`);
            return 0;
        }
        const now = session.io.now().getTime();
        const waiting = [...leaving.values()].map((p) => `${p.key} (${p.why})`).join(", ");
        if (now >= deadline) {
            return failedCordoned(`pods did not leave within ${spec.timeoutSeconds}s: ${waiting}`);
        }
        if (waiting !== said) progress(`waiting for ${waiting}`);
        said = waiting;
        await session.sleep(Math.min(intervalSeconds * 1000, deadline - now));
    }
}

/** The node's pods in the order of their names (`<namespace>/<name>`), so every message lists them alike. */
async function listPods(api: NodeApi, node: string) {
    return (await api.listPods(node)).sort((a, b) => (podKey(a) < podKey(b) ? -1 : podKey(a) > podKey(b) ? 1 : 0));
}

/** The refusal when evicting would lose pods for good; undefined when there are none. */
function unmanagedRefusal(plan: DrainPlan): string | undefined {
    if (plan.unmanaged.length === 0) return undefined;
    return `pods with no controller would be lost: ${plan.unmanaged.map(podKey).join(", ")}; delete them or set nodeChanges.drain to false`;
}

/**
 * Cordons the node with the change's annotations, unless someone else cordoned it before: that
 * cordon stays, and is not this change's to lift. Returns whether this drain cordoned it.
 */
async function cordon(spec: DrainSpec, node: V1Node, api: NodeApi, session: Session, progress: (line: string) => void): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
        const state = cordonState(node);
        if (state.cordoned && !state.byOceanid) {
            progress(`${spec.node} was cordoned before the change, not by oceanid: it stays cordoned afterwards`);
            return false;
        }
        // An earlier change that stopped between its drain and its uncordon left it: this one takes it over.
        if (state.cordoned && state.byOceanid)
            progress(`${spec.node} was left cordoned by a ${state.kind} node change since ${state.since ?? "?"}: draining it again`);
        try {
            // The resourceVersion makes the API server refuse (409) if the Node changed since it was read.
            await api.patchNode(spec.node, cordonPatch(spec.change, session.io.now(), node.metadata?.resourceVersion));
            progress(`cordoned ${spec.node}`);
            return true;
        } catch (err) {
            if (!(err instanceof KubeApiError) || err.status !== 409 || attempt >= 3) throw err;
        }
        const again = await api.readNode(spec.node);
        if (again === undefined) throw new KubeApiError(`the Node ${spec.node} was deleted while it was being cordoned`);
        node = again;
    }
}

const countOf = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
