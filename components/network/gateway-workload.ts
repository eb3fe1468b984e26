// The egress gateway's Kubernetes objects, as plain data: Tailscale in
// userspace mode inside the pod network, the opposite of the incident's
// hostNetwork DaemonSet on every node.
import { isIPv6 } from "node:net";

/** Settings every gateway object is built from; see EgressGatewayArgs for the meaning and defaults. */
export interface GatewaySpec {
    name: string;
    namespace: string;
    exitNode: string;
    image: string;
    imageDigest?: string;
    proxyPort: number;
    healthPort: number;
    replicas: number;
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    tailscaleLogs: TailscaleLogs;
}

/** Whether tailscaled uploads its logs to Tailscale (log.tailscale.com): "off" sets TS_NO_LOGS_NO_SUPPORT=true. */
export type TailscaleLogs = "off" | "upload";
export const TAILSCALE_LOGS: readonly TailscaleLogs[] = ["off", "upload"];

export const GATEWAY_DEFAULTS = {
    image: "tailscale/tailscale:v1.102.3",
    proxyPort: 1055,
    healthPort: 9002,
    replicas: 2,
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
    tailscaleLogs: "off",
} as const;

/** containerboot's LocalAPI socket (TS_SOCKET), in the pod's emptyDir; the readiness probe asks tailscaled there. */
export const GATEWAY_SOCKET = "/tmp/tailscaled.sock";
/** Where the image (tailscale/tailscale, Alpine with busybox) has the tailscale CLI. */
export const TAILSCALE_CLI = "/usr/local/bin/tailscale";

/**
 * The readiness probe's timing. NotReady within periodSeconds * failureThreshold + timeoutSeconds
 * (15 s) of tailscaled seeing the exit node offline, gone or unapproved; Ready again within
 * periodSeconds + timeoutSeconds (10 s) of it seeing it back. docs/egress.md has the measured figures.
 */
export const READINESS_TIMING = { periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 2, successThreshold: 1 } as const;

export function gatewayLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": "egress-gateway", "app.kubernetes.io/instance": name };
}

export const authKeySecretName = (name: string) => `${name}-authkey`;

/** The gateway namespace, with Pod Security "restricted" enforced, audited and warned. */
export function gatewayNamespace(namespace: string) {
    return {
        metadata: {
            name: namespace,
            labels: {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/audit-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/warn-version": "latest",
            },
        },
    };
}

/** The image reference: the pinned tag, plus the digest when one is given. */
export function imageRef(s: Pick<GatewaySpec, "image" | "imageDigest">): string {
    return s.imageDigest ? `${s.image}@${s.imageDigest}` : s.image;
}

/**
 * containerboot's settings: userspace networking, state in memory (no Secret,
 * no directory, nothing on any host), the exit node by Tailscale IP, one port
 * for both the SOCKS5 and the HTTP proxy, and a health endpoint for probes.
 * The auth key only ever comes from the Secret.
 */
export function gatewayEnv(s: GatewaySpec) {
    return [
        { name: "TS_SOCKET", value: GATEWAY_SOCKET },
        { name: "TS_USERSPACE", value: "true" },
        { name: "TS_KUBE_SECRET", value: "" },
        { name: "TS_AUTHKEY", valueFrom: { secretKeyRef: { name: authKeySecretName(s.name), key: "authkey" } } },
        { name: "TS_EXTRA_ARGS", value: `--exit-node=${s.exitNode}` },
        { name: "TS_SOCKS5_SERVER", value: `:${s.proxyPort}` },
        { name: "TS_OUTBOUND_HTTP_PROXY_LISTEN", value: `:${s.proxyPort}` },
        { name: "TS_ENABLE_HEALTH_CHECK", value: "true" },
        { name: "TS_LOCAL_ADDR_PORT", value: `[::]:${s.healthPort}` },
        // tailscaled reads it (envknob.NoLogsNoSupport: logpolicy, hostinfo); containerboot passes its environment on.
        { name: "TS_NO_LOGS_NO_SUPPORT", value: s.tailscaleLogs === "off" ? "true" : "false" },
    ];
}

/** `text` as a literal in a POSIX basic regular expression. */
const breLiteral = (text: string) => text.replace(/[.[\]*^$\\]/g, "\\$&");

/**
 * The shell line of the readiness probe: tailscaled's status (`tailscale status --json`, read-only
 * LocalAPI) with white space removed, matched by one grep. Ready only when the exit node in use
 * (ipnstate ExitNodeStatus: set while the peer is in the netmap) is online and holds the configured
 * Tailscale IP, and its peer entry says online, in use and usable as exit node (`ExitNodeOption`:
 * exit routes advertised and approved). For `auto:any` any exit node in use qualifies. POSIX sh,
 * tr and grep (busybox in the image); no `$` or backquote, which the guardrails read as a command
 * line they cannot see (tailscale-exit-node-by-ip).
 */
export function exitNodeReadyCheck(exitNode: string): string {
    let ip = "";
    if (exitNode !== "auto:any") {
        if (!/^[A-Za-z0-9.:_-]+$/.test(exitNode)) throw new Error(`exit node ${JSON.stringify(exitNode)}: not a Tailscale IP or auto:any`);
        // ExitNodeStatus prints addresses as Go's netip does: IPv6 lower case and compressed, as URL hosts are.
        ip = isIPv6(exitNode) ? new URL(`http://[${exitNode}]/`).hostname.slice(1, -1) : exitNode;
    }
    const inUse = ip === "" ? '"ExitNodeStatus":{[^}]*"Online":true' : `"ExitNodeStatus":{[^}]*"Online":true,"TailscaleIPs":\\[[^]]*"${breLiteral(ip)}/`;
    const pattern = `${inUse}.*"Online":true,"ExitNode":true,"ExitNodeOption":true`;
    return `${TAILSCALE_CLI} --socket=${GATEWAY_SOCKET} status --json | tr -d ' \\n\\t' | grep -q '${pattern}'`;
}

/** Readiness: the exit node is usable (exitNodeReadyCheck), checked in the container as the kubelet runs exec probes. */
export function gatewayReadinessProbe(s: Pick<GatewaySpec, "exitNode">) {
    return { exec: { command: ["/bin/sh", "-c", exitNodeReadyCheck(s.exitNode)] }, ...READINESS_TIMING };
}

export function gatewayDeployment(s: GatewaySpec) {
    const labels = gatewayLabels(s.name);
    return {
        metadata: { name: s.name, namespace: s.namespace, labels },
        spec: {
            replicas: s.replicas,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    automountServiceAccountToken: false,
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: 1000,
                        runAsGroup: 1000,
                        fsGroup: 1000,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    topologySpreadConstraints: [
                        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels } },
                    ],
                    containers: [
                        {
                            name: "tailscale",
                            image: imageRef(s),
                            imagePullPolicy: "IfNotPresent",
                            env: gatewayEnv(s),
                            ports: [
                                { name: "proxy", containerPort: s.proxyPort, protocol: "TCP" },
                                { name: "health", containerPort: s.healthPort, protocol: "TCP" },
                            ],
                            // Readiness follows the exit node; liveness only asks whether tailscaled has a
                            // tailnet IP, so a missing exit node takes the pod out of the Service without
                            // restarting it.
                            readinessProbe: gatewayReadinessProbe(s),
                            livenessProbe: { httpGet: { path: "/healthz", port: "health" }, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 3 },
                            resources: s.resources,
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                runAsNonRoot: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                        },
                    ],
                    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
                },
            },
        },
    };
}

export function gatewayService(s: GatewaySpec) {
    return {
        metadata: { name: s.name, namespace: s.namespace, labels: gatewayLabels(s.name) },
        spec: {
            type: "ClusterIP",
            selector: gatewayLabels(s.name),
            ports: [{ name: "proxy", port: s.proxyPort, targetPort: "proxy", protocol: "TCP" }],
        },
    };
}

export function gatewayDisruptionBudget(s: GatewaySpec) {
    return {
        metadata: { name: s.name, namespace: s.namespace, labels: gatewayLabels(s.name) },
        // AlwaysAllow: pods that are not Ready (the exit node is down) may be evicted, so an exit node
        // outage does not also block node drains.
        spec: { minAvailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", selector: { matchLabels: gatewayLabels(s.name) } },
    };
}
