/**
 * The I/O half of the health check: the Kubernetes API, an SSH handshake with a pinned host key,
 * and the server's /ping. Each returns plain data for node-health.ts to judge.
 */
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { request } from "node:https";
import { Client, type ServerHostKeyAlgorithm } from "ssh2";
import { cordonState } from "./cordon";
import { firstLine, KubeApiError, kubeRequest, netError, seconds, truncate } from "./kube-api";
import type { NodeObservation } from "./node-health";
import { NODE_CHANGE_CONDITION } from "./node-change-status";
import { fingerprint, hostPort, keyType, parseHostKey } from "./ssh-host";

export { KubeApiError } from "./kube-api";

/** The namespace where every kubelet renews a Lease named after its node, every 10 s. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** What the API server says about one Node. */
export type NodeState = Pick<NodeObservation, "ready" | "kubeletVersion" | "cordon" | "nodeChange">;

/** What the API server says about the nodes, by node name. */
export interface KubeState {
    nodes: Map<string, NodeState>;
    leases: Map<string, Date | undefined>;
}

/** Lists Nodes and node Leases; throws {@link KubeApiError} when the API server cannot be asked. */
export async function observeKubernetes(kc: KubeConfig, timeoutMs: number): Promise<KubeState> {
    const [nodeList, leaseList] = await kubeRequest(timeoutMs, (options) =>
        Promise.all([
            kc.makeApiClient(CoreV1Api).listNode({}, options),
            kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: NODE_LEASE_NAMESPACE }, options),
        ]),
    );
    const state: KubeState = { nodes: new Map(), leases: new Map() };
    for (const node of nodeList.items) state.nodes.set(node.metadata?.name ?? "", nodeState(node));
    for (const lease of leaseList.items) {
        const renewed = lease.spec?.renewTime;
        state.leases.set(lease.metadata?.name ?? "", renewed === undefined ? undefined : new Date(renewed));
    }
    return state;
}

/**
 * A Deployment's ready replicas (`status.readyReplicas`, 0 when unset); undefined when the API server
 * has no such Deployment. Throws {@link KubeApiError} when it cannot be asked.
 */
export async function deploymentReadyReplicas(kc: KubeConfig, namespace: string, name: string, timeoutMs: number): Promise<number | undefined> {
    try {
        const deployment = await kubeRequest(timeoutMs, (options) => kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace }, options));
        return deployment.status?.readyReplicas ?? 0;
    } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
    }
}

/** The parts of a Node that say whether it is healthy, cordoned, or in the middle of a change. */
export function nodeState(node: V1Node): NodeState {
    const ready = node.status?.conditions?.find((c) => c.type === "Ready");
    const change = node.status?.conditions?.find((c) => c.type === NODE_CHANGE_CONDITION);
    const cordon = cordonState(node);
    return {
        ready: ready && { status: ready.status, reason: ready.reason, message: ready.message },
        kubeletVersion: node.status?.nodeInfo?.kubeletVersion,
        ...(cordon.cordoned ? { cordon } : {}),
        ...(change
            ? {
                  nodeChange: {
                      status: change.status,
                      reason: change.reason ?? "",
                      message: change.message ?? "",
                      // client-node reads date-time fields into Dates.
                      lastTransitionTime: change.lastTransitionTime === undefined ? undefined : new Date(change.lastTransitionTime),
                  },
              }
            : {}),
    };
}

/** The Kubernetes half of a node's observation, joined with its SSH result. */
export function observation(name: string, kube: KubeState, ssh: NodeObservation["ssh"]): NodeObservation {
    const node = kube.nodes.get(name);
    return {
        name,
        registered: node !== undefined,
        ready: node?.ready,
        kubeletVersion: node?.kubeletVersion,
        leaseRenewTime: kube.leases.get(name),
        ...(node?.cordon ? { cordon: node.cordon } : {}),
        ...(node?.nodeChange ? { nodeChange: node.nodeChange } : {}),
        ssh,
    };
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * Offer only the pinned key's type, so a server with several host keys shows the pinned one
 * (offered everything, it would show its preferred type and look like a mismatch).
 */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
    return (type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type]) as ServerHostKeyAlgorithm[];
}

/**
 * Reachable over SSH with the pinned host key: the key exchange completes and the server proves
 * the pinned key. No credential is offered; the connection closes once the handshake is done
 * (a server refusing authentication after that is reachable too).
 */
export function probeSsh(host: string, port: number, hostKey: string, timeoutMs: number): Promise<ProbeResult> {
    const where = `ssh ${hostPort(host, port)}`;
    const pinned = parseHostKey(hostKey);
    if (!pinned) return Promise.resolve({ ok: false, reason: `${where}: pinned host key is not "<type> <base64>" as ssh-keyscan prints it` });
    return new Promise((resolve) => {
        const client = new Client();
        let done = false;
        let mismatch: string | undefined;
        const finish = (result: ProbeResult) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            client.removeAllListeners();
            client.on("error", () => undefined);
            client.destroy();
            resolve(result);
        };
        const unreachable = (why: string) => finish({ ok: false, reason: `${where} unreachable (${why})` });
        const timer = setTimeout(() => unreachable(`timed out after ${seconds(timeoutMs)}s`), timeoutMs);
        client.on("handshake", () => finish({ ok: true }));
        client.on("ready", () => finish({ ok: true }));
        client.on("error", (err: Error & { level?: string; code?: string; syscall?: string }) => {
            if (mismatch) return finish({ ok: false, reason: mismatch });
            if (err.level === "client-authentication") return finish({ ok: true });
            if (/no matching host key format/i.test(err.message)) {
                return finish({ ok: false, reason: `${where} host key does not match the pinned key (the server has no ${pinned.type} host key)` });
            }
            unreachable(netError(err) ?? firstLine(err));
        });
        client.on("close", () => (mismatch ? finish({ ok: false, reason: mismatch }) : unreachable("connection closed during the handshake")));
        try {
            client.connect({
                host,
                port,
                username: "oceanid-health",
                // Our own timer decides; ssh2's only backs it up.
                readyTimeout: timeoutMs + 5000,
                algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
                hostVerifier: (key: Buffer) => {
                    if (keyType(key) === pinned.type && key.equals(pinned.blob)) return true;
                    mismatch = `${where} host key does not match the pinned key (got ${keyType(key) ?? "unknown"} ${fingerprint(key)})`;
                    return false;
                },
            });
        } catch (err) {
            unreachable(firstLine(err));
        }
    });
}

/** The server's `/ping` answers `pong` over TLS checked against `caPem` (else the system's CAs). */
export function pingServer(url: string, caPem?: string, timeoutMs = 5000): Promise<ProbeResult> {
    const failed = (why: string): ProbeResult => ({ ok: false, reason: `server ping ${url} failed (${why})` });
    return new Promise((resolve) => {
        let target: URL;
        try {
            target = new URL(`${url.replace(/\/+$/, "")}/ping`);
        } catch {
            return resolve(failed("not a URL"));
        }
        if (target.protocol !== "https:") return resolve(failed("not an https:// URL"));
        let done = false;
        const finish = (result: ProbeResult) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            req.destroy();
            resolve(result);
        };
        const req = request(target, { method: "GET", ca: caPem, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
                body += chunk;
                if (body.length > 1024) finish(failed("answer too long"));
            });
            res.on("end", () => {
                if (res.statusCode !== 200) return finish(failed(`HTTP ${res.statusCode}`));
                if (body.trim() !== "pong") return finish(failed(`answered ${JSON.stringify(truncate(body.trim(), 40))}, not "pong"`));
                finish({ ok: true });
            });
            res.on("error", (err) => finish(failed(netError(err) ?? firstLine(err))));
        });
        const timer = setTimeout(() => finish(failed(`timed out after ${seconds(timeoutMs)}s`)), timeoutMs);
        req.on("error", (err) => finish(failed(netError(err) ?? firstLine(err))));
        req.end();
    });
}
