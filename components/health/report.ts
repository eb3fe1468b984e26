/** What check mode found, and its text and JSON forms. */
import type { ProbeResult } from "./probes";

export interface NodeReport {
    name: string;
    /** The Ready condition's status (`True`, `False`, `Unknown`); null when the node is not registered or reported none. */
    ready: string | null;
    /** Whole seconds since the node's Lease was renewed; null without a Lease. */
    leaseAgeSeconds: number | null;
    kubeletVersion: string | null;
    /** The stack's `k3sVersion` for the node. */
    expectedVersion: string;
    ssh: ProbeResult;
    /** The node's last change, from its `OceanidNodeChange` condition; null when it has none. `since`: the condition's lastTransitionTime. */
    nodeChange: { reason: string; message: string; since: string | null } | null;
    /** null when the node is schedulable; `since` is when a node change cordoned it (null for anyone else's cordon). */
    cordoned: { byOceanid: boolean; since: string | null } | null;
    problems: string[];
}

export interface HealthReport {
    healthy: boolean;
    nodes: NodeReport[];
    server: { url: string; ping: ProbeResult };
    /** Every problem as `<node>: <reason>`; the server ping's under the server node's name. */
    problems: string[];
}

export function toJson(report: HealthReport): string {
    return JSON.stringify(report, null, 2);
}

/** A table NODE READY LEASE KUBELET SSH, the ping line, then `healthy: N nodes` or the problems. */
export function toText(report: HealthReport): string {
    const rows = [
        ["NODE", "READY", "LEASE", "KUBELET", "SSH"],
        ...report.nodes.map((n) => [
            n.name,
            n.ready ?? "-",
            n.leaseAgeSeconds === null ? "-" : `${n.leaseAgeSeconds}s`,
            n.kubeletVersion ?? "-",
            n.ssh.ok ? "ok" : "failed",
        ]),
    ];
    const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
    const lines = rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]))).join("  "));
    lines.push(`server ping ${report.server.url}: ${report.server.ping.ok ? "pong" : "failed"}`);
    if (report.healthy) {
        lines.push(`healthy: ${report.nodes.length} node${report.nodes.length === 1 ? "" : "s"}`);
    } else {
        lines.push(...report.problems);
    }
    return lines.join("\n");
}
