/**
 * What check mode says about a node's last change: the `OceanidNodeChange` condition the node-side
 * scripts write (through the status subresource, as the node) and the cordon a change leaves.
 * Pure: probes.ts reads them, this judges.
 */
import type { CordonState } from "./cordon";

/** The Node condition type each node change writes. */
export const NODE_CHANGE_CONDITION = "OceanidNodeChange";
/** Where an operator reads what to do about a node change that did not resolve. */
export const NODE_CHANGES_RUNBOOK = "docs/runbooks/node-changes.md";
/** An `Armed` change whose revert time passed longer ago than this should have reverted or been confirmed. */
export const ARMED_PAST_DEADLINE_SECONDS = 120;
/** A revert (restore files, restart k3s) running longer than this is stuck. */
export const REVERTING_LIMIT_SECONDS = 600;

/**
 * The condition as the node wrote it. Status `True` while unresolved (reasons `Armed`,
 * `Reverting`, `RevertFailed`), `False` once resolved (`Confirmed`, `Reverted`). Messages start
 * with the change's kind: `k3s change <id> armed at <t>; reverts at <t> unless confirmed`.
 */
export interface NodeChangeCondition {
    status: string;
    reason: string;
    message: string;
    lastTransitionTime?: Date;
}

/** The parts of a node's observation this judges. */
export interface NodeChangeView {
    name: string;
    cordon?: Extract<CordonState, { cordoned: true }>;
    nodeChange?: NodeChangeCondition;
}

/** Problems for check mode: a change that failed or hangs, and a cordon a change left behind. */
export function nodeChangeProblems(node: NodeChangeView, now: Date): string[] {
    const problems: string[] = [];
    const change = node.nodeChange;
    if (change?.reason === "RevertFailed") {
        problems.push(`node change failed to revert: ${change.message}; see ${NODE_CHANGES_RUNBOOK}`);
    } else if (change?.reason === "Armed") {
        const revertsAt = /; reverts at (\S+) unless confirmed$/.exec(change.message)?.[1];
        const deadline = revertsAt === undefined ? NaN : Date.parse(revertsAt);
        if (Number.isNaN(deadline)) {
            problems.push(`node change Armed, but its message names no revert time: ${change.message}`);
        } else if (now.getTime() - deadline > ARMED_PAST_DEADLINE_SECONDS * 1000) {
            problems.push(`node change unresolved past its revert deadline: ${change.message}`);
        }
    } else if (change?.reason === "Reverting" && change.lastTransitionTime !== undefined) {
        const running = Math.floor((now.getTime() - change.lastTransitionTime.getTime()) / 1000);
        if (running > REVERTING_LIMIT_SECONDS) problems.push(`node change revert running for ${running}s: ${change.message}`);
    }
    if (node.cordon?.byOceanid) {
        problems.push(
            `cordoned by a ${node.cordon.kind} node change since ${node.cordon.since ?? "(no time recorded)"}: ` +
                `once the node is healthy, kubectl uncordon ${node.name} (${NODE_CHANGES_RUNBOOK})`,
        );
    }
    return problems;
}
