/**
 * What `oceanid-health serve` exports: one probe round turned into Prometheus metrics. Pure: the
 * exporter (exporter.ts) probes, this names and counts. Each round gets a registry of its own, so
 * a scrape reads one whole round, never half of the next.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { leaseAgeSeconds } from "./node-health";
import type { KubeState, ProbeResult } from "./probes";

/** Every metric, with its help line (usage.ts and docs/health.md list the same). */
export const METRICS = {
    nodeReady: ["oceanid_node_ready", "1 when the node's Ready condition is True, else 0 (absent while the API server cannot be asked)"],
    leaseAge: ["oceanid_node_lease_age_seconds", "Seconds since the node's Lease in kube-node-lease was renewed (absent without a Lease)"],
    versionMatches: ["oceanid_node_kubelet_version_matches", "1 when the node's kubelet reports the stack's k3sVersion, else 0"],
    versionInfo: ["oceanid_node_kubelet_version_info", "Always 1; the version label is the kubelet version the node reports"],
    sshUp: ["oceanid_node_ssh_up", "1 when an SSH handshake with the pinned host key completed, else 0"],
    sshSeconds: ["oceanid_node_ssh_handshake_seconds", "How long the last successful SSH handshake took (absent when it failed)"],
    changeUnresolved: ["oceanid_node_change_unresolved", "1 while the node's OceanidNodeChange condition is True (Armed, Reverting, RevertFailed), else 0"],
    changeFailed: ["oceanid_node_change_failed", "1 when the node's last change failed to revert (RevertFailed), else 0"],
    changeSeconds: ["oceanid_node_change_unresolved_seconds", "Seconds since the unresolved node change's condition last changed (absent when resolved)"],
    cordonedByChange: ["oceanid_node_cordoned_by_change", "1 when a node change's cordon (annotation oceanid.io/cordoned-by) is on the node, else 0"],
    apiserverUp: ["oceanid_apiserver_up", "1 when the API server answered the node and Lease lists, else 0"],
    pingUp: ["oceanid_server_ping_up", "1 when the server's /ping at the stack's server URL answered pong, else 0"],
    gatewayReady: ["oceanid_egress_gateway_ready_replicas", "Ready replicas of the egress-gateway Deployment, 0 when missing (absent when egress is disabled)"],
    exitOnline: [
        "oceanid_exit_node_online",
        "1 when the tailnet's control server shows the exit node online at its address (absent without exitNodeHost or the API key)",
    ],
    exitApproved: ["oceanid_exit_node_routes_approved", "1 when the exit node's exit routes (0.0.0.0/0, ::/0) are approved in the control server"],
    roundSeconds: ["oceanid_health_probe_duration_seconds", "How long the last probe round took"],
    roundTimestamp: ["oceanid_health_last_probe_timestamp_seconds", "When the last probe round finished, in Unix seconds"],
    errors: ["oceanid_health_probe_errors_total", "Probes that failed since the exporter started, by probe (kubernetes, ssh, ping, egress_gateway, tailnet)"],
} as const;

/** The probe label values of oceanid_health_probe_errors_total. */
export const PROBES = ["kubernetes", "ssh", "ping", "egress_gateway", "tailnet"] as const;
export type ProbeName = (typeof PROBES)[number];

/** What one probe round saw. */
export interface Round {
    /** When the round finished. */
    at: Date;
    durationSeconds: number;
    /** Undefined when the API server could not be asked. */
    kube: KubeState | undefined;
    nodes: Array<{ name: string; k3sVersion: string; ssh: ProbeResult; sshSeconds: number }>;
    ping: ProbeResult;
    /** Undefined when egress is disabled or the Deployment could not be read. */
    gatewayReadyReplicas?: number;
    /** Undefined without exitNodeHost, without the API key, or when the control server could not be asked. */
    exitNode?: { online: boolean; routesApproved: boolean };
}

/** Failed probes since the start, by probe. */
export type ErrorCounts = Record<ProbeName, number>;

export const noErrors = (): ErrorCounts => ({ kubernetes: 0, ssh: 0, ping: 0, egress_gateway: 0, tailnet: 0 });

const bit = (b: boolean) => (b ? 1 : 0);

/** The registry a scrape reads: the round's metrics (none before the first round) and the error counts. */
export function roundRegistry(round: Round | undefined, errors: ErrorCounts): Registry {
    const registry = new Registry();
    const gauge = ([name, help]: readonly [string, string], labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
    if (round !== undefined) {
        const { kube } = round;
        const now = round.at;
        if (kube !== undefined) {
            const ready = gauge(METRICS.nodeReady, ["node"]);
            const lease = gauge(METRICS.leaseAge, ["node"]);
            const matches = gauge(METRICS.versionMatches, ["node"]);
            const info = gauge(METRICS.versionInfo, ["node", "version"]);
            for (const n of round.nodes) {
                const node = kube.nodes.get(n.name);
                ready.set({ node: n.name }, bit(node?.ready?.status === "True"));
                const renewed = kube.leases.get(n.name);
                if (renewed !== undefined) lease.set({ node: n.name }, leaseAgeSeconds(renewed, now));
                matches.set({ node: n.name }, bit(node?.kubeletVersion === n.k3sVersion));
                if (node?.kubeletVersion !== undefined) info.set({ node: n.name, version: node.kubeletVersion }, 1);
            }
        }
        const sshUp = gauge(METRICS.sshUp, ["node"]);
        const sshSeconds = gauge(METRICS.sshSeconds, ["node"]);
        for (const n of round.nodes) {
            sshUp.set({ node: n.name }, bit(n.ssh.ok));
            if (n.ssh.ok) sshSeconds.set({ node: n.name }, n.sshSeconds);
        }
        if (kube !== undefined) {
            const unresolved = gauge(METRICS.changeUnresolved, ["node"]);
            const failed = gauge(METRICS.changeFailed, ["node"]);
            const since = gauge(METRICS.changeSeconds, ["node"]);
            const cordoned = gauge(METRICS.cordonedByChange, ["node"]);
            for (const n of round.nodes) {
                const node = kube.nodes.get(n.name);
                const change = node?.nodeChange;
                const open = change?.status === "True";
                unresolved.set({ node: n.name }, bit(open));
                failed.set({ node: n.name }, bit(change?.reason === "RevertFailed"));
                if (open && change.lastTransitionTime !== undefined) {
                    since.set({ node: n.name }, Math.max(0, Math.floor((now.getTime() - change.lastTransitionTime.getTime()) / 1000)));
                }
                cordoned.set({ node: n.name }, bit(node?.cordon?.byOceanid === true));
            }
        }
        gauge(METRICS.apiserverUp).set(bit(kube !== undefined));
        gauge(METRICS.pingUp).set(bit(round.ping.ok));
        if (round.gatewayReadyReplicas !== undefined) gauge(METRICS.gatewayReady).set(round.gatewayReadyReplicas);
        if (round.exitNode !== undefined) {
            gauge(METRICS.exitOnline).set(bit(round.exitNode.online));
            gauge(METRICS.exitApproved).set(bit(round.exitNode.routesApproved));
        }
        gauge(METRICS.roundSeconds).set(round.durationSeconds);
        gauge(METRICS.roundTimestamp).set(round.at.getTime() / 1000);
    }
    const [name, help] = METRICS.errors;
    const counter = new Counter({ name, help, labelNames: ["probe"], registers: [registry] });
    for (const probe of PROBES) counter.inc({ probe }, errors[probe]);
    return registry;
}
