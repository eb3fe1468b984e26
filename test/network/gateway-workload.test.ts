// The gateway's security-relevant fields, one assertion each: change one and a test names it.
import { describe, expect, it } from "vitest";
import { gatewaySettings } from "../../components/network/egress-gateway";
import {
    exitNodeReadyCheck,
    gatewayDeployment,
    gatewayEnv,
    gatewayNamespace,
    gatewayService,
    gatewayDisruptionBudget,
} from "../../components/network/gateway-workload";
import { admissionDenials } from "../helpers/admission";
import { cliVerdict, packVerdict } from "../helpers/gates";

const settings = () => gatewaySettings("egress-gateway", { exitNode: "100.121.150.65", optInNamespaces: ["apps"] });
const deployment = () => gatewayDeployment(settings());
const pod = () => deployment().spec.template.spec;
const container = () => pod().containers[0];
const env = () => Object.fromEntries(gatewayEnv(settings()).map((e) => [e.name, "value" in e ? e.value : e.valueFrom]));

describe("gateway Deployment", () => {
    it("is a Deployment of 2 that rolls one new pod in before taking one out", () => {
        expect(deployment().spec.replicas).toBe(2);
        expect(deployment().spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    });

    it("spreads its pods over nodes", () => {
        expect(pod().topologySpreadConstraints).toEqual([
            {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: deployment().spec.selector.matchLabels },
            },
        ]);
    });

    it("stays off the host: no hostNetwork, hostPID, hostIPC, no hostPath", () => {
        const p = pod() as Record<string, unknown>;
        expect(p.hostNetwork).toBeUndefined();
        expect(p.hostPID).toBeUndefined();
        expect(p.hostIPC).toBeUndefined();
        expect(pod().volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    });

    it("mounts no service-account token", () => expect(pod().automountServiceAccountToken).toBe(false));
    it("runs as a non-root user", () => {
        expect(pod().securityContext.runAsNonRoot).toBe(true);
        expect(pod().securityContext.runAsUser).toBe(1000);
    });
    it("uses the runtime's default seccomp profile", () => expect(pod().securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" }));
    it("has a read-only root filesystem", () => expect(container().securityContext.readOnlyRootFilesystem).toBe(true));
    it("drops all capabilities and adds none", () => expect(container().securityContext.capabilities).toEqual({ drop: ["ALL"] }));
    it("cannot escalate privileges", () => expect(container().securityContext.allowPrivilegeEscalation).toBe(false));
    it("has requests and limits", () =>
        expect(container().resources).toEqual({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } }));

    it("pins the image by tag, and by digest when given", () => {
        expect(container().image).toBe("tailscale/tailscale:v1.102.3");
        const digest = `sha256:${"a".repeat(64)}`;
        const s = gatewaySettings("g", { exitNode: "auto:any", imageDigest: digest });
        expect(gatewayDeployment(s).spec.template.spec.containers[0].image).toBe(`tailscale/tailscale:v1.102.3@${digest}`);
    });

    it("is live while tailscaled has a tailnet IP (/healthz on the health port), whatever the exit node does", () => {
        expect(container().livenessProbe).toEqual({
            httpGet: { path: "/healthz", port: "health" },
            initialDelaySeconds: 30,
            periodSeconds: 20,
            failureThreshold: 3,
        });
        expect(container().ports).toEqual([
            { name: "proxy", containerPort: 1055, protocol: "TCP" },
            { name: "health", containerPort: 9002, protocol: "TCP" },
        ]);
    });

    it("is ready only while the configured exit node is in the peer list, online and approved as exit node", () => {
        expect(container().readinessProbe).toEqual({
            exec: {
                command: [
                    "/bin/sh",
                    "-c",
                    "/usr/local/bin/tailscale --socket=/tmp/tailscaled.sock status --json | tr -d ' \\n\\t' | grep -q " +
                        `'"ExitNodeStatus":{[^}]*"Online":true,"TailscaleIPs":\\[[^]]*"100\\.121\\.150\\.65/.*"Online":true,"ExitNode":true,"ExitNodeOption":true'`,
                ],
            },
            periodSeconds: 5,
            timeoutSeconds: 5,
            failureThreshold: 2,
            successThreshold: 1,
        });
    });

    it("with auto:any, is ready while any exit node is in use, online and approved", () => {
        expect(exitNodeReadyCheck("auto:any")).toBe(
            "/usr/local/bin/tailscale --socket=/tmp/tailscaled.sock status --json | tr -d ' \\n\\t' | grep -q " +
                `'"ExitNodeStatus":{[^}]*"Online":true.*"Online":true,"ExitNode":true,"ExitNodeOption":true'`,
        );
    });

    it("matches an IPv6 exit node as tailscale prints it (lower case, compressed)", () => {
        expect(exitNodeReadyCheck("FD7A:115C:A1E0:0:0:0:0:1")).toContain(`"TailscaleIPs":\\[[^]]*"fd7a:115c:a1e0::1/.*`);
    });

    it("refuses an exit node that would break out of the probe's shell line", () => {
        expect(() => exitNodeReadyCheck("100.64.0.1' ; reboot '")).toThrow(`exit node "100.64.0.1' ; reboot '": not a Tailscale IP or auto:any`);
        expect(() => exitNodeReadyCheck("$(id)")).toThrow("not a Tailscale IP or auto:any");
    });
});

describe("containerboot settings", () => {
    it("userspace networking", () => expect(env().TS_USERSPACE).toBe("true"));
    it("state in memory: no kube Secret, no state directory", () => {
        expect(env().TS_KUBE_SECRET).toBe("");
        expect(env().TS_STATE_DIR).toBeUndefined();
    });
    it("the auth key only from the Secret", () => expect(env().TS_AUTHKEY).toEqual({ secretKeyRef: { name: "egress-gateway-authkey", key: "authkey" } }));
    it("the exit node by Tailscale IP", () => expect(env().TS_EXTRA_ARGS).toBe("--exit-node=100.121.150.65"));
    it("SOCKS5 and HTTP proxy on one port", () => {
        expect(env().TS_SOCKS5_SERVER).toBe(":1055");
        expect(env().TS_OUTBOUND_HTTP_PROXY_LISTEN).toBe(":1055");
    });
    it("the health endpoint", () => {
        expect(env().TS_ENABLE_HEALTH_CHECK).toBe("true");
        expect(env().TS_LOCAL_ADDR_PORT).toBe("[::]:9002");
    });
    it("the LocalAPI socket the readiness probe asks, in the emptyDir", () => expect(env().TS_SOCKET).toBe("/tmp/tailscaled.sock"));
    it("no log upload to Tailscale by default", () => expect(env().TS_NO_LOGS_NO_SUPPORT).toBe("true"));
    it("log upload only when asked, and then said explicitly", () => {
        const upload = gatewayEnv(gatewaySettings("g", { exitNode: "auto:any", tailscaleLogs: "upload" }));
        expect(upload.filter((e) => e.name === "TS_NO_LOGS_NO_SUPPORT")).toEqual([{ name: "TS_NO_LOGS_NO_SUPPORT", value: "false" }]);
        const off = gatewayEnv(gatewaySettings("g", { exitNode: "auto:any", tailscaleLogs: "off" }));
        expect(off.filter((e) => e.name === "TS_NO_LOGS_NO_SUPPORT")).toEqual([{ name: "TS_NO_LOGS_NO_SUPPORT", value: "true" }]);
        expect(() => gatewaySettings("g", { exitNode: "auto:any", tailscaleLogs: "on" as never })).toThrow(
            'EgressGateway g: tailscaleLogs is "on"; use "off" or "upload"',
        );
    });
    it("every variable, in order", () =>
        expect(gatewayEnv(settings()).map((e) => e.name)).toEqual([
            "TS_SOCKET",
            "TS_USERSPACE",
            "TS_KUBE_SECRET",
            "TS_AUTHKEY",
            "TS_EXTRA_ARGS",
            "TS_SOCKS5_SERVER",
            "TS_OUTBOUND_HTTP_PROXY_LISTEN",
            "TS_ENABLE_HEALTH_CHECK",
            "TS_LOCAL_ADDR_PORT",
            "TS_NO_LOGS_NO_SUPPORT",
        ]));
});

describe("namespace, Service, PodDisruptionBudget", () => {
    it("enforces, audits and warns Pod Security restricted", () => {
        expect(gatewayNamespace("egress-gateway").metadata.labels).toEqual({
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
        });
    });
    it("exposes only the proxy port", () =>
        expect(gatewayService(settings()).spec.ports).toEqual([{ name: "proxy", port: 1055, targetPort: "proxy", protocol: "TCP" }]));
    it("keeps at least one pod through voluntary disruptions", () => expect(gatewayDisruptionBudget(settings()).spec.minAvailable).toBe(1));
    it("lets pods that are not Ready (exit node down) be evicted, so an outage does not block node drains", () =>
        expect(gatewayDisruptionBudget(settings()).spec.unhealthyPodEvictionPolicy).toBe("AlwaysAllow"));
});

describe("the gateway against the guardrails", () => {
    it("passes every rule of the project's own policy pack", () => {
        const v = cliVerdict([{ apiVersion: "apps/v1", kind: "Deployment", ...deployment() }]);
        expect(v.mandatory).toEqual([]);
        expect(v.advisory).toEqual([]);
    });

    it("passes the policy pack and admission too, for an IP and for auto:any", () => {
        for (const exitNode of ["100.121.150.65", "fd7a:115c:a1e0::1", "auto:any"]) {
            const d = { apiVersion: "apps/v1", kind: "Deployment", ...gatewayDeployment(gatewaySettings("egress-gateway", { exitNode })) };
            expect(cliVerdict([d]).mandatory, exitNode).toEqual([]);
            expect(packVerdict([d]), exitNode).toMatchObject({ mandatory: [], advisory: [] });
            expect(admissionDenials([d]).denied, exitNode).toEqual([]);
        }
    });

    it("would be refused with a probe line the guardrails cannot read (the readiness probe's check is live)", () => {
        const d = deployment() as any;
        d.spec.template.spec.containers[0].readinessProbe.exec.command[2] += ' && test -n "$EXIT"';
        const obj = { apiVersion: "apps/v1", kind: "Deployment", ...d };
        expect(cliVerdict([obj]).mandatory).toEqual(["tailscale-exit-node-by-ip", "tailscale-userspace-only"]);
        expect(admissionDenials([obj]).denied).toEqual(["tailscale-exit-node-by-ip", "tailscale-userspace-only"]);
    });

    it("would be refused with hostNetwork switched on (the check is live)", () => {
        const d = deployment() as any;
        d.spec.template.spec.hostNetwork = true;
        expect(cliVerdict([{ apiVersion: "apps/v1", kind: "Deployment", ...d }]).mandatory).toEqual(["workload-no-host-namespaces"]);
    });

    it("refuses an API server exception without an API server", () => {
        expect(() => gatewaySettings("g", { exitNode: "auto:any", optInNamespaces: ["apps"], apiServerAccess: ["apps"] })).toThrow(
            "EgressGateway g: apiServerAccess lists apps but apiServer is not set",
        );
    });
});
