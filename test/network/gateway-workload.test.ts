// The gateway's security-relevant fields, one assertion each: change one and a test names it.
import { describe, expect, it } from "vitest";
import { gatewaySettings } from "../../components/network/egress-gateway";
import { gatewayDeployment, gatewayEnv, gatewayNamespace, gatewayService, gatewayDisruptionBudget } from "../../components/network/gateway-workload";
import { cliVerdict } from "../helpers/gates";

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

    it("probes /healthz on the health port for readiness and liveness", () => {
        expect(container().readinessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
        expect(container().livenessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
        expect(container().ports).toEqual([
            { name: "proxy", containerPort: 1055, protocol: "TCP" },
            { name: "health", containerPort: 9002, protocol: "TCP" },
        ]);
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
});

describe("the gateway against the guardrails", () => {
    it("passes every rule of the project's own policy pack", () => {
        const v = cliVerdict([{ apiVersion: "apps/v1", kind: "Deployment", ...deployment() }]);
        expect(v.mandatory).toEqual([]);
        expect(v.advisory).toEqual([]);
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
