// The egress gateway's Kubernetes objects, as plain data: Tailscale in
// userspace mode inside the pod network, the opposite of the incident's
// hostNetwork DaemonSet on every node.

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
}

export const GATEWAY_DEFAULTS = {
    image: "tailscale/tailscale:v1.102.3",
    proxyPort: 1055,
    healthPort: 9002,
    replicas: 2,
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
} as const;

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
        { name: "TS_USERSPACE", value: "true" },
        { name: "TS_KUBE_SECRET", value: "" },
        { name: "TS_AUTHKEY", valueFrom: { secretKeyRef: { name: authKeySecretName(s.name), key: "authkey" } } },
        { name: "TS_EXTRA_ARGS", value: `--exit-node=${s.exitNode}` },
        { name: "TS_SOCKS5_SERVER", value: `:${s.proxyPort}` },
        { name: "TS_OUTBOUND_HTTP_PROXY_LISTEN", value: `:${s.proxyPort}` },
        { name: "TS_ENABLE_HEALTH_CHECK", value: "true" },
        { name: "TS_LOCAL_ADDR_PORT", value: `[::]:${s.healthPort}` },
    ];
}

export function gatewayDeployment(s: GatewaySpec) {
    const labels = gatewayLabels(s.name);
    const probe = { httpGet: { path: "/healthz", port: "health" } };
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
                            readinessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
                            livenessProbe: { ...probe, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 3 },
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
        spec: { minAvailable: 1, selector: { matchLabels: gatewayLabels(s.name) } },
    };
}
