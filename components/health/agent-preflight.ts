/**
 * The drain step's API preflight for an agent: may it move to its target while the server runs
 * what the API server says it runs? The node-side preflight compares against the server's target
 * in the stack config; this compares against the running server, which a failed server change
 * may have left behind. Pure: drain.ts reads the server's Node.
 */
import { agentSkewProblem, parseK3sVersion } from "../config/k3s-version";

export type AgentPreflight = { ok: true; line: string } | { ok: false; reason: string };

/**
 * Checks `target` against the server Node's `status.nodeInfo.kubeletVersion` (`serverNode` is
 * undefined when the server has no Node). `target` is a k3s release (the parser checked it).
 */
export function agentPreflight(server: string, serverNode: { kubeletVersion?: string } | undefined, target: string): AgentPreflight {
    if (serverNode === undefined) return { ok: false, reason: `the server ${server} is not registered in the API server` };
    const reported = serverNode.kubeletVersion;
    const running = parseK3sVersion(reported ?? "");
    if (!running) return { ok: false, reason: `the server ${server} reports kubelet version '${reported ?? ""}', which is not a k3s release` };
    const agent = parseK3sVersion(target);
    if (!agent) throw new Error(`agentPreflight: ${JSON.stringify(target)} is not a k3s release`);
    const runs = `the server ${server} runs ${running.raw} (as the API server reports it)`;
    const skew = agentSkewProblem(agent, running);
    if (skew === undefined) return { ok: true, line: `preflight ok: the server ${server} runs ${running.raw}` };
    if (skew.relation === "is newer than") return { ok: false, reason: `${runs}; agents must not be newer than the server: upgrade the server first` };
    return { ok: false, reason: `${runs}; ${target} is more than one minor release behind it` };
}
